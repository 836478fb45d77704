package timer_test

import (
	"testing"
	"time"

	"github.com/shunhui19/goes/core/timer"
)

// TestStopWhileMovingDown: a Stop that lands while the wheel moves a task
// down a level (a task further away than one turn of the lowest level sits
// in a higher one until its turn comes) must still return. A cancel in the
// middle of that move finds the task in no bucket and fails; the task is
// then put in the lower bucket of a wheel that is about to stop, where it
// would never run, and Stop would wait for it for ever. The window is
// narrow: the test stops many timers at the moment their tasks move.
// Under -race, which widens it, Stop without the fix hung within a few
// thousand rounds in every run; without -race it rarely does.
func TestStopWhileMovingDown(t *testing.T) {
	if testing.Short() {
		t.Skip("thousands of rounds")
	}
	const rounds = 3000
	end := time.Now().Add(20 * time.Second)
	for i := 0; i < rounds && time.Now().Before(end); i++ {
		tm := timer.NewTimer(2, time.Millisecond) // the lowest level spans 2 ms
		tm.Start()
		for j := range 20 {
			tm.Add(time.Duration(3+j%4)*time.Millisecond, func(...any) {}, nil, false)
		}
		time.Sleep(time.Duration(i%40) * 100 * time.Microsecond)
		stopped := make(chan struct{})
		go func() {
			tm.Stop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d: Stop did not return", i)
		}
	}
}
