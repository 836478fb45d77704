package timer_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shunhui19/goes/core/timer"
)

// A one-shot task, then a persistent task that is deleted after its third
// run. The manual's example uses NewTimer(10, time.Second) and intervals of
// seconds; the intervals here are short so the example runs quickly.
func Example() {
	t := timer.NewTimer(10, 10*time.Millisecond)
	t.Start()
	defer t.Stop()

	// Once, after 50ms.
	var once sync.WaitGroup
	once.Add(1)
	t.Add(50*time.Millisecond, func(args ...any) {
		fmt.Println(args...)
		once.Done()
	}, "after 50ms to run", false)
	once.Wait()

	// Every 20ms until deleted.
	var runs atomic.Int64
	third := make(chan struct{})
	id := t.Add(20*time.Millisecond, func(args ...any) {
		switch n := runs.Add(1); {
		case n < 3:
			fmt.Println(args...)
		case n == 3:
			fmt.Println(args...)
			close(third)
		}
	}, "every 20ms", true)
	<-third
	fmt.Println("deleted:", t.Del(id))
	fmt.Println("deleted again:", t.Del(id))

	// Output:
	// after 50ms to run
	// every 20ms
	// every 20ms
	// every 20ms
	// deleted: true
	// deleted again: false
}

// A task called with no arguments: args is nil.
func ExampleTimer_Add_noArgs() {
	t := timer.NewTimer(10, time.Millisecond)
	t.Start()
	defer t.Stop()

	done := make(chan struct{})
	t.Add(5*time.Millisecond, func(args ...any) {
		fmt.Println("arguments:", len(args))
		close(done)
	}, nil, false)
	<-done

	// Output:
	// arguments: 0
}

// A persistent task may delete itself from its own callback.
func ExampleTimer_Del() {
	t := timer.NewTimer(10, time.Millisecond)
	t.Start()
	defer t.Stop()

	var mu sync.Mutex // guards id until Add has returned it
	var id timer.TaskID
	done := make(chan struct{})
	mu.Lock()
	id = t.Add(5*time.Millisecond, func(...any) {
		mu.Lock()
		defer mu.Unlock()
		if t.Del(id) { // true once: the task is gone afterwards
			close(done)
		}
	}, nil, true)
	mu.Unlock()
	<-done
	fmt.Println("deleted itself, tasks left:", t.Len())

	// Output:
	// deleted itself, tasks left: 0
}
