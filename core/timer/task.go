package timer

import (
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// task is one scheduled function. id, fn, args, interval and persistent
// never change; deadline, due and pos are guarded by the Timer's mutex.
type task struct {
	id         TaskID
	fn         func(args ...any)
	args       any
	interval   time.Duration
	persistent bool

	deadline time.Time // when the next run is due
	due      int64     // the wheel's tick for deadline
	pos      int       // index in its wheel slot; -1 when not in the wheel

	cancelled atomic.Bool // deleted, or the timer stopped
	running   atomic.Bool // a run of a persistent task is in progress
}

// loop advances the wheel w until quit is closed: it takes the tasks due,
// schedules the next run of the persistent ones, starts a goroutine for
// each run, and sleeps until the earliest tick a task may be due (or until
// kicked, when the wheel is empty). Only loop advances the wheel, always
// under t.mu, and no callback runs on it.
func (t *Timer) loop(w *wheel, kick, quit, ended chan struct{}) {
	defer close(ended)
	wake := time.AfterFunc(time.Duration(math.MaxInt64), func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	})
	wake.Stop()
	defer wake.Stop()
	armed := int64(math.MaxInt64) // the tick wake is set for
	var due []*task
	for {
		t.wakes.Add(1)
		t.mu.Lock()
		if t.state != stateStarted {
			t.mu.Unlock()
			return
		}
		now := time.Now()
		due = w.advance(w.now(now), due[:0])
		for _, tk := range due {
			if !tk.persistent {
				delete(t.tasks, tk.id)
				continue
			}
			tk.deadline = tk.deadline.Add(tk.interval)
			if !tk.deadline.After(now) {
				// Skip the runs that are already overdue instead of
				// firing them back to back.
				missed := now.Sub(tk.deadline)/tk.interval + 1
				tk.deadline = tk.deadline.Add(missed * tk.interval)
			}
			w.insert(tk)
		}
		next := w.next()
		t.wakeAt = next
		t.mu.Unlock()

		for i, tk := range due {
			go t.fire(tk)
			due[i] = nil
		}
		if next != armed {
			// wake is set for one tick at a time. Once it has fired, the
			// loop has taken that tick, so next differs and wake is set
			// again; a wake that fires for a tick no longer wanted only
			// makes the loop look once for nothing.
			if next == math.MaxInt64 {
				wake.Stop()
			} else {
				wake.Reset(w.until(next, time.Now()))
			}
			armed = next
		}
		select {
		case <-kick: // wake fired, or an Add is due before next
		case <-quit:
			return
		}
	}
}

// fire runs tk in a goroutine of its own, once the loop has taken it as
// due.
func (t *Timer) fire(tk *task) {
	if tk.persistent {
		if tk.cancelled.Load() {
			return // deleted since the loop took it
		}
		if !tk.running.CompareAndSwap(false, true) {
			t.logger().Debug("goes: timer task still running, run skipped", slog.Int64("task", int64(tk.id)))
			return
		}
		defer tk.running.Store(false)
	}
	t.run(tk)
}

// run calls the task's function, recovering and logging a panic.
func (t *Timer) run(tk *task) {
	defer func() {
		if r := recover(); r != nil {
			t.logger().Error("goes: timer task panicked",
				slog.Int64("task", int64(tk.id)),
				slog.String("panic", fmt.Sprint(r)),
				slog.String("stack", string(debug.Stack())))
		}
	}()
	if tk.args == nil {
		tk.fn()
		return
	}
	tk.fn(tk.args)
}
