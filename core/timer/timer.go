package timer

import (
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults applied by NewTimer, and by Start or Add on a zero Timer.
const (
	DefaultSlots = 60
	DefaultTick  = time.Second
)

// TaskID names a task for Del. Add never returns 0 for a scheduled task, so
// 0 can stand for "no task".
type TaskID int64

// Timer runs tasks after an interval, once or repeatedly, on a hashed
// timing wheel: adding and deleting a task costs a map and a slice
// operation, and a waiting task holds no goroutine. The wheel's goroutine
// sleeps until the next task is due, not tick by tick, and not at all while
// the timer holds no task.
//
// All methods are safe for concurrent use, including from inside task
// callbacks. The zero Timer is usable and behaves like
// NewTimer(DefaultSlots, DefaultTick).
type Timer struct {
	// Logger receives recovered task panics (slog.Default() when nil).
	// Set it before Start.
	Logger *slog.Logger

	mu     sync.Mutex
	slots  int
	tick   time.Duration
	state  state
	tasks  map[TaskID]*task
	lastID TaskID
	w      *wheel // while started
	// wakeAt is the tick the loop sleeps until (math.MaxInt64: until
	// kicked); an Add due earlier kicks it.
	wakeAt int64
	kick   chan struct{} // buffered 1; wakes the loop to look again
	quit   chan struct{} // closed by Stop
	ended  chan struct{} // closed when the loop has returned
	// done is closed when Stop has finished.
	done chan struct{}

	wakes atomic.Int64 // times the loop looked at the wheel; for tests
}

type state int

const (
	stateNew state = iota
	stateStarted
	stateStopped
)

// NewTimer returns a stopped timer whose wheel has slots slots and advances
// every tick: NewTimer(10, time.Second) for second granularity,
// NewTimer(10, 100*time.Millisecond) for finer tasks. A tick is the
// resolution of the timer: a task runs no earlier than its interval and
// normally within one tick after it.
//
// slots < 1 means DefaultSlots; tick <= 0 means DefaultTick; a tick is
// rounded down to whole milliseconds, with 1ms the smallest.
func NewTimer(slots int, tick time.Duration) *Timer {
	t := &Timer{}
	t.setup(slots, tick)
	return t
}

// setup applies the defaults; t.mu is held or t is not shared yet.
func (t *Timer) setup(slots int, tick time.Duration) {
	if slots < 1 {
		slots = DefaultSlots
	}
	switch {
	case tick <= 0:
		tick = DefaultTick
	case tick < time.Millisecond:
		tick = time.Millisecond
	default:
		tick = tick.Truncate(time.Millisecond)
	}
	t.slots, t.tick = slots, tick
	t.tasks = make(map[TaskID]*task)
	t.done = make(chan struct{})
}

// lazyInit makes the zero Timer usable; t.mu is held.
func (t *Timer) lazyInit() {
	if t.tasks == nil {
		t.setup(t.slots, t.tick)
	}
}

// Add schedules fn to run after interval, once, or every interval when
// persistent is true, and returns the task's id for Del. Safe from any
// goroutine, including task callbacks.
//
// fn is called as fn(args): args is handed over as the one argument; when
// args is nil (an untyped nil) fn is called with no arguments at all.
//
// The interval is measured from the call to Add, or from Start for a task
// added before Start. An interval <= 0 counts as one tick. A task never runs
// early; it usually runs within one tick after its interval.
//
// A persistent task keeps a fixed rate (its n-th run is due n intervals
// after it was scheduled, so runs do not drift). If a run is still going
// when the next one is due, the next one is skipped, and runs missed while
// the process could not keep up are skipped, not queued: at most one run of
// a task is in progress at a time.
//
// A panic in fn is recovered and logged with its stack; a persistent task
// keeps its schedule afterwards.
//
// Add on a stopped Timer schedules nothing and returns 0. A nil fn panics.
func (t *Timer) Add(interval time.Duration, fn func(args ...any), args any, persistent bool) TaskID {
	if fn == nil {
		panic("goes: timer: Add with a nil task function")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lazyInit()
	if t.state == stateStopped {
		return 0
	}
	if interval <= 0 {
		interval = t.tick
	}
	t.lastID++
	tk := &task{
		id:         t.lastID,
		fn:         fn,
		args:       args,
		interval:   interval,
		persistent: persistent,
		pos:        -1,
	}
	t.tasks[tk.id] = tk
	if t.state == stateStarted {
		tk.deadline = time.Now().Add(interval)
		t.arm(tk)
	}
	return tk.id
}

// Del cancels a task and reports whether it was still scheduled: true for a
// one-shot task that has not started to run and for a persistent task
// (which then never starts another run), false for an unknown id, a
// one-shot task that has already run or is running, and any task after
// Stop. Safe from any goroutine; a task may delete itself or another task
// from inside its callback. Del does not wait for a run in progress.
func (t *Timer) Del(id TaskID) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	tk, ok := t.tasks[id]
	if !ok {
		return false
	}
	delete(t.tasks, id)
	if t.w != nil {
		t.w.remove(tk)
	}
	tk.cancelled.Store(true)
	return true
}

// Len returns the number of scheduled tasks: persistent ones and one-shot
// ones that have not started to run. Safe from any goroutine.
func (t *Timer) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.tasks)
}

// Start starts the wheel and returns at once; the wheel runs in a goroutine
// of its own until Stop. Tasks added before Start are due their interval
// after Start. Calling Start again, or after Stop, does nothing. Safe from
// any goroutine.
func (t *Timer) Start() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lazyInit()
	if t.state != stateNew {
		return
	}
	now := time.Now()
	t.w = newWheel(t.slots, t.tick, now)
	t.state = stateStarted
	t.wakeAt = math.MaxInt64
	t.kick = make(chan struct{}, 1)
	t.quit = make(chan struct{})
	t.ended = make(chan struct{})
	for _, tk := range t.tasks {
		tk.deadline = now.Add(tk.interval)
		t.arm(tk)
	}
	go t.loop(t.w, t.kick, t.quit, t.ended)
}

// Stop stops the timer for good: tasks that have not started never run,
// Add schedules nothing any more, and the wheel's goroutine has ended
// when Stop returns. A callback already running when Stop is called is not
// interrupted and Stop does not wait for it (so a callback may call Stop);
// coordinate with such a callback if you need it finished.
//
// Stop is idempotent and safe from any goroutine, including task
// callbacks; a second call returns once the first has finished.
func (t *Timer) Stop() {
	t.mu.Lock()
	t.lazyInit()
	if t.state == stateStopped {
		done := t.done
		t.mu.Unlock()
		<-done
		return
	}
	started := t.state == stateStarted
	t.state = stateStopped
	for id, tk := range t.tasks {
		tk.cancelled.Store(true)
		delete(t.tasks, id)
	}
	t.w = nil
	ended := t.ended
	if started {
		close(t.quit)
	}
	t.mu.Unlock()

	if started {
		<-ended
	}
	close(t.done)
}

// arm puts tk in the wheel for tk.deadline and wakes the loop if tk is due
// before the loop would wake; t.mu is held and the timer is started.
func (t *Timer) arm(tk *task) {
	t.w.insert(tk)
	if tk.due < t.wakeAt {
		t.wakeAt = tk.due
		select {
		case t.kick <- struct{}{}:
		default: // a kick is pending already
		}
	}
}

// logger returns the logger for task panics.
func (t *Timer) logger() *slog.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return slog.Default()
}
