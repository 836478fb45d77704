package timer_test

import (
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/shunhui19/goes/core/timer"
)

// TestTinyWheelAddDelWhileAdvancing stresses the wheel where a turn is
// shortest: 4 slots of 1 ms, many goroutines adding and deleting tasks of a
// few ticks, due in slots the wheel is taking at that moment, or a turn or
// two later, while persistent tasks keep it advancing and a callback adds
// and deletes tasks of its own. Every call must return, every one-shot task
// not deleted must run exactly once, and no deleted one may run.
func TestTinyWheelAddDelWhileAdvancing(t *testing.T) {
	tm := timer.NewTimer(4, time.Millisecond)
	tm.Start()
	const (
		workers = 16
		perWork = 400
	)
	var mu sync.Mutex
	runs := map[timer.TaskID]int{}
	type outcome struct {
		id      timer.TaskID
		deleted bool
	}
	outcomes := make(chan outcome, workers*perWork)
	var keep []timer.TaskID
	for i := range 3 {
		keep = append(keep, tm.Add(time.Duration(1+i)*time.Millisecond, func(...any) {
			tm.Del(tm.Add(time.Duration(i)*time.Millisecond, func(...any) {}, nil, false))
		}, nil, true))
	}
	deadline := time.Now().Add(20 * time.Second)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed))
			for i := 0; i < perWork && time.Now().Before(deadline); i++ {
				idc := make(chan timer.TaskID, 1)
				id := tm.Add(time.Duration(rng.Intn(12))*time.Millisecond, func(...any) {
					id := <-idc
					mu.Lock()
					runs[id]++
					mu.Unlock()
				}, nil, false)
				idc <- id
				deleted := false
				if rng.Intn(2) == 0 {
					if rng.Intn(2) == 0 {
						time.Sleep(time.Duration(rng.Intn(3000)) * time.Microsecond)
					}
					deleted = tm.Del(id)
				}
				outcomes <- outcome{id, deleted}
				if i%16 == 0 {
					time.Sleep(time.Duration(rng.Intn(2000)) * time.Microsecond)
				}
			}
		}(int64(w))
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("Add and Del did not return")
	}
	close(outcomes)

	var want, deleted []timer.TaskID
	for o := range outcomes {
		if o.deleted {
			deleted = append(deleted, o.id)
		} else {
			want = append(want, o.id)
		}
	}
	if len(want) == 0 || len(deleted) == 0 {
		t.Fatalf("%d tasks kept and %d deleted: the test did not race both", len(want), len(deleted))
	}
	waitFor(t, "every task not deleted to run", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range want {
			if runs[id] == 0 {
				return false
			}
		}
		return true
	})
	for _, id := range keep {
		if !tm.Del(id) {
			t.Fatalf("Del of persistent task %d returned false", id)
		}
	}
	time.Sleep(20 * time.Millisecond) // time for a second run to show
	stopped := make(chan struct{})
	go func() {
		tm.Stop()
		close(stopped)
	}()
	recv(t, stopped, "Stop to return")

	mu.Lock()
	defer mu.Unlock()
	for _, id := range want {
		if n := runs[id]; n != 1 {
			t.Fatalf("task %d ran %d times, want 1", id, n)
		}
	}
	for _, id := range deleted {
		if n := runs[id]; n != 0 {
			t.Fatalf("task %d ran %d times though Del returned true", id, n)
		}
	}
	t.Logf("%d tasks ran once, %d deleted", len(want), len(deleted))
}
