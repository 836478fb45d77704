package timer

import (
	"math/rand"
	"testing"
	"time"
)

// TestWheelTakesEachTaskOnce drives the wheel by hand, in steps short and
// longer than a turn, with tasks added and removed between steps, and
// checks that each task is taken exactly once, at the first step that has
// reached its deadline, never before.
func TestWheelTakesEachTaskOnce(t *testing.T) {
	const tick = time.Millisecond
	start := time.Now()
	rng := rand.New(rand.NewSource(1))
	for _, slots := range []int{1, 2, 4, 60} {
		w := newWheel(slots, tick, start)
		live := map[*task]bool{}
		var at time.Time = start
		for step := 0; step < 2000; step++ {
			for range rng.Intn(4) {
				tk := &task{deadline: at.Add(time.Duration(rng.Int63n(int64(20 * tick)))), pos: -1}
				w.insert(tk)
				live[tk] = true
			}
			if rng.Intn(3) == 0 {
				for tk := range live {
					w.remove(tk)
					w.remove(tk) // a second remove does nothing
					delete(live, tk)
					break
				}
			}
			at = at.Add(time.Duration(rng.Int63n(int64(3 * tick * time.Duration(slots)))))
			due := w.advance(w.now(at), nil)
			for _, tk := range due {
				if !live[tk] {
					t.Fatalf("slots %d: a task taken twice or after its removal", slots)
				}
				if at.Before(tk.deadline) {
					t.Fatalf("slots %d: task taken %v early", slots, tk.deadline.Sub(at))
				}
				delete(live, tk)
			}
			for tk := range live {
				if !at.Before(tk.deadline) && w.now(at) >= tk.due {
					t.Fatalf("slots %d: a task due at tick %d left in the wheel at tick %d", slots, tk.due, w.now(at))
				}
				if next := w.next(); next > tk.due {
					t.Fatalf("slots %d: next %d after a task due at %d", slots, next, tk.due)
				}
			}
			if w.n != len(live) {
				t.Fatalf("slots %d: %d tasks in the wheel, want %d", slots, w.n, len(live))
			}
		}
	}
}

// TestIdleTimerSleeps: a started timer without tasks, or with a task far
// away, does not wake up tick by tick; it wakes for the tasks it runs.
func TestIdleTimerSleeps(t *testing.T) {
	const tick = time.Millisecond
	tm := NewTimer(4, tick) // a turn every 4 ms
	tm.Start()
	defer tm.Stop()
	const window = 200 * time.Millisecond // 200 ticks, 50 turns

	time.Sleep(window)
	if n := tm.wakes.Load(); n > 1 {
		t.Fatalf("empty timer: %d wake-ups in %v, want 1 (the start)", n, window)
	}

	far := tm.Add(time.Hour, func(...any) {}, nil, false)
	time.Sleep(window)
	if n := tm.wakes.Load(); n > 3 {
		t.Fatalf("one task an hour away: %d wake-ups in %v", n, window)
	}
	tm.Del(far)
	time.Sleep(window)
	base := tm.wakes.Load()
	if base > 4 {
		t.Fatalf("after Del: %d wake-ups", base)
	}

	// A task every 50 ms for 200 ms: a few wake-ups per run, not one a tick.
	ran := make(chan struct{}, 16)
	id := tm.Add(50*time.Millisecond, func(...any) { ran <- struct{}{} }, nil, true)
	for range 4 {
		select {
		case <-ran:
		case <-time.After(5 * time.Second):
			t.Fatal("persistent task did not run")
		}
	}
	tm.Del(id)
	if n := tm.wakes.Load() - base; n > 20 {
		t.Fatalf("4 runs of a 50 ms task: %d wake-ups", n)
	}
}

// TestEarlierTaskWakesSleepingWheel: a wheel asleep until a task far away
// (many turns) still runs a task added later but due sooner on time, and
// after a task due sooner was deleted it goes back to sleep.
func TestEarlierTaskWakesSleepingWheel(t *testing.T) {
	const tick = 5 * time.Millisecond
	tm := NewTimer(4, tick)
	tm.Start()
	defer tm.Stop()
	ran := make(chan time.Duration, 2)
	tm.Add(time.Hour, func(...any) { ran <- time.Hour }, nil, false)
	// Deleted before it is due: the wheel wakes once for it at most.
	tm.Del(tm.Add(30*time.Millisecond, func(...any) { ran <- 0 }, nil, false))
	time.Sleep(50 * time.Millisecond) // the wheel sleeps until the hour
	const interval = 40 * time.Millisecond
	begin := time.Now()
	tm.Add(interval, func(...any) { ran <- time.Since(begin) }, nil, false)
	select {
	case got := <-ran:
		if got < interval {
			t.Fatalf("task due after %v ran after %v", interval, got)
		}
		if got > interval+tick+2*time.Second {
			t.Fatalf("task due after %v ran after %v", interval, got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("task added to a sleeping wheel did not run")
	}
	if n := tm.Len(); n != 1 {
		t.Fatalf("Len = %d, want 1 (the task an hour away)", n)
	}
}
