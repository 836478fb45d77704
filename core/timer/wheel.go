package timer

import (
	"math"
	"time"
)

// wheel is a hashed timing wheel with rounds. Time is counted in ticks from
// the wheel's start on the monotonic clock; a task due at tick k sits in
// slot k mod len(slots), however many turns away k is, and runs when the
// wheel has passed tick k. Every field is guarded by the Timer's mutex, and
// only the Timer's loop goroutine advances the wheel, so adding, deleting
// and advancing never interleave and callbacks never run under the lock.
type wheel struct {
	tick  time.Duration
	start time.Time // tick 0; monotonic
	slots []slot
	// done is the last tick whose due tasks have been taken: every task in
	// the wheel is due after it.
	done int64
	n    int // tasks in the wheel
}

// slot holds the tasks whose due tick is congruent to its index.
type slot struct {
	tasks []*task
	// min is at most the earliest due tick in tasks (math.MaxInt64 when
	// empty). A deletion leaves it as it was, so it may be too early; the
	// wheel then wakes once for nothing and recomputes it.
	min int64
}

func newWheel(slots int, tick time.Duration, start time.Time) *wheel {
	w := &wheel{tick: tick, start: start, slots: make([]slot, slots)}
	for i := range w.slots {
		w.slots[i].min = math.MaxInt64
	}
	return w
}

// now returns the tick that has begun at instant at.
func (w *wheel) now(at time.Time) int64 {
	return int64(at.Sub(w.start) / w.tick)
}

// insert puts tk in the wheel for tk.deadline: at the first tick that begins
// no earlier than the deadline, and after the last tick already taken.
func (w *wheel) insert(tk *task) {
	d := tk.deadline.Sub(w.start)
	due := int64(d / w.tick)
	if d%w.tick != 0 {
		due++
	}
	if d < 0 || due <= w.done {
		due = w.done + 1
	}
	s := &w.slots[due%int64(len(w.slots))]
	tk.due = due
	tk.pos = len(s.tasks)
	s.tasks = append(s.tasks, tk)
	s.min = min(s.min, due)
	w.n++
}

// remove takes tk out of the wheel; it does nothing for a task not in it.
func (w *wheel) remove(tk *task) {
	if tk.pos < 0 {
		return
	}
	s := &w.slots[tk.due%int64(len(w.slots))]
	s.cut(tk.pos)
	if len(s.tasks) == 0 {
		s.min = math.MaxInt64
	}
	w.n--
}

// cut takes the task at index i out of s, moving the last one into its
// place.
func (s *slot) cut(i int) {
	tk, last := s.tasks[i], len(s.tasks)-1
	if i != last {
		s.tasks[i] = s.tasks[last]
		s.tasks[i].pos = i
	}
	s.tasks[last] = nil
	s.tasks = s.tasks[:last]
	tk.pos = -1
}

// advance takes out of the wheel every task due at tick cur or before and
// appends it to due.
func (w *wheel) advance(cur int64, due []*task) []*task {
	if cur <= w.done {
		return due
	}
	if cur-w.done >= int64(len(w.slots)) {
		// A turn or more has passed (the wheel slept): every slot is due.
		for i := range w.slots {
			due = w.take(&w.slots[i], cur, due)
		}
	} else {
		for k := w.done + 1; k <= cur; k++ {
			due = w.take(&w.slots[k%int64(len(w.slots))], cur, due)
		}
	}
	w.done = cur
	return due
}

// take moves the tasks of s due at tick cur or before to due and
// recomputes s.min.
func (w *wheel) take(s *slot, cur int64, due []*task) []*task {
	m := int64(math.MaxInt64)
	for i := 0; i < len(s.tasks); {
		tk := s.tasks[i]
		if tk.due > cur {
			m = min(m, tk.due)
			i++
			continue
		}
		due = append(due, tk)
		s.cut(i)
		w.n--
	}
	s.min = m
	if len(s.tasks) == 0 && cap(s.tasks) > 64 {
		// Let a slot that once held a burst give its memory back.
		s.tasks = nil
	}
	return due
}

// next returns the earliest tick at which a task may be due, or
// math.MaxInt64 when the wheel is empty.
func (w *wheel) next() int64 {
	if w.n == 0 {
		return math.MaxInt64
	}
	m := int64(math.MaxInt64)
	for i := range w.slots {
		m = min(m, w.slots[i].min)
		if m == w.done+1 {
			break // none can be earlier
		}
	}
	return m
}

// until returns how long from instant at until tick k begins.
func (w *wheel) until(k int64, at time.Time) time.Duration {
	if k > math.MaxInt64/int64(w.tick) {
		return math.MaxInt64 // beyond what a Duration counts
	}
	return w.start.Add(time.Duration(k) * w.tick).Sub(at)
}
