// Package timer runs timed tasks on a hashed timing wheel: once after an
// interval, or every interval until deleted.
//
// A wheel of slots buckets advances every tick; the tick is the timer's
// resolution (a second, or 100 milliseconds for finer work). A task further
// away than one turn of the wheel waits in its bucket for the turns it
// needs. Adding and deleting a task is cheap and a waiting task holds no
// goroutine, so one Timer can carry a deadline for every connection of a
// server. The wheel's one goroutine sleeps until the next task is due, and
// for good while the timer is empty, so an idle timer does not wake the
// process every tick.
//
//	t := timer.NewTimer(10, time.Second)
//	t.Start()
//	defer t.Stop()
//
//	// Once, after 5 seconds: prints [after 5 second to run].
//	t.Add(5*time.Second, func(args ...any) { fmt.Println(args) }, "after 5 second to run", false)
//
//	// Every 2 seconds until deleted.
//	id := t.Add(2*time.Second, func(args ...any) { fmt.Println(args...) }, "every 2s", true)
//	// ...
//	t.Del(id)
//
// A task's function gets the args given to Add as its one argument, or no
// argument when args is nil. Each run happens in a goroutine of its own, so
// a slow task delays no other; a panic in a task is recovered and logged.
package timer
