package timer

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/RussellLuo/timingwheel"
)

// task is one scheduled function. id, fn, args, interval and persistent
// never change; deadline, wt and gen are guarded by the Timer's mutex.
type task struct {
	id         TaskID
	fn         func(args ...any)
	args       any
	interval   time.Duration
	persistent bool

	deadline time.Time          // when the next run is due
	wt       *timingwheel.Timer // the wheel timer for deadline; nil when not armed
	gen      uint64             // which arming of tk a fire belongs to

	running atomic.Bool // a run of a persistent task is in progress
}

// fire is called by the wheel, in a goroutine of its own, when the wheel
// timer of tk's gen-th arming expires.
func (t *Timer) fire(tk *task, gen uint64) {
	t.mu.Lock()
	if t.state != stateStarted || t.tasks[tk.id] != tk || tk.gen != gen {
		// Deleted or stopped after the wheel timer had already expired.
		t.mu.Unlock()
		t.armed.Done()
		return
	}
	now := time.Now()
	if now.Before(tk.deadline) {
		// The wheel keeps time by the wall clock; a clock set forward can
		// make it fire early. The deadline is monotonic: wait out the rest.
		t.arm(tk)
		t.mu.Unlock()
		t.armed.Done()
		return
	}
	if tk.persistent {
		tk.deadline = tk.deadline.Add(tk.interval)
		if !tk.deadline.After(now) {
			// Skip the runs that are already overdue instead of firing
			// them back to back.
			missed := now.Sub(tk.deadline)/tk.interval + 1
			tk.deadline = tk.deadline.Add(missed * tk.interval)
		}
		t.arm(tk)
	} else {
		delete(t.tasks, tk.id)
		tk.wt = nil
	}
	t.mu.Unlock()
	t.armed.Done()

	if tk.persistent {
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
