package tcp

import "time"

// The watchdog looks at the loops every watchTick and hands over a loop
// that has run the same user call for at least blockAfter: a handler that
// waits for something. A shorter limit would also catch handlers that were
// merely descheduled on a busy machine, and each handover costs a goroutine.
const (
	watchTick    = time.Millisecond
	blockAfter   = 2 * time.Millisecond
	starvedLimit = 20 * time.Millisecond // blockAfter while threads wait for a CPU
)

// enter marks the loop busy running user code; the owner calls it and
// passes the result to leave.
func (l *eloop) enter() uint64 {
	s := l.state.Load() + 1
	l.state.Store(s)
	if e := l.eng; e.parked.Load() && e.parked.CompareAndSwap(true, false) {
		select {
		case e.wakeWD <- struct{}{}:
		default:
		}
	}
	return s
}

// leave ends what enter began. false: the watchdog handed the loop to
// another goroutine meanwhile; the caller owns it no more.
func (l *eloop) leave(s uint64) bool {
	return l.state.CompareAndSwap(s, s+1)
}

// leaveIfOwner is leave for work, which a worker runs too: a worker (l is
// nil) owns no loop, and it reports true.
func (l *eloop) leaveIfOwner(s uint64) bool { return l == nil || l.leave(s) }

// watch is the watchdog: a loop found running the same user call for
// blockAfter is handed to a new goroutine. It parks while no loop runs
// user code for a while, so an idle server does not tick.
func (e *epollEngine) watch() {
	defer e.open.Done()
	t := time.NewTicker(watchTick)
	defer t.Stop()
	prev := make([]uint64, len(e.loops))
	since := make([]time.Time, len(e.loops)) // when prev was first seen
	st := newStarvation()
	quiet := 0
	for {
		var now time.Time
		select {
		case now = <-t.C:
		case <-e.quit:
			return
		}
		busy := false
		for i, l := range e.loops {
			s := l.state.Load()
			if s&1 == 0 {
				prev[i] = s
				continue
			}
			busy = true
			if s != prev[i] {
				prev[i], since[i] = s, now
				continue
			}
			stuck := now.Sub(since[i])
			if stuck < blockAfter || stuck < starvedLimit && st.starved() {
				continue
			}
			if l.state.CompareAndSwap(s, s+1) {
				e.handoffs.Add(1)
				e.startLoop(l)
				if now.Sub(e.lastOff) < offloadWindow {
					e.offload()
				}
				e.lastOff = now
			}
		}
		if busy {
			quiet = 0
			continue
		}
		if quiet++; quiet < 100 {
			continue
		}
		quiet = 0
		e.parked.Store(true)
		for _, l := range e.loops {
			if l.state.Load()&1 == 1 {
				busy = true
			}
		}
		if busy && e.parked.CompareAndSwap(true, false) {
			continue
		}
		t.Stop()
		select {
		case <-e.wakeWD:
		case <-e.quit:
			return
		}
		t.Reset(watchTick)
	}
}

// Offloading: two handovers within offloadWindow switch the loops to
// workers for offloadHold.
const (
	offloadWindow = 100 * time.Millisecond
	offloadHold   = time.Second
)

// monoBase anchors the engine's monotonic clock.
var monoBase = time.Now()

func mono() int64 { return int64(time.Since(monoBase)) }

// offloading reports whether messages go to workers now; it costs a load
// only, unless handlers blocked recently.
func (e *epollEngine) offloading() bool {
	u := e.offloadUntil.Load()
	if u == 0 {
		return false
	}
	if mono() < u {
		return true
	}
	e.offloadUntil.CompareAndSwap(u, 0)
	return false
}

// offload keeps the loops handing messages to workers for offloadHold.
func (e *epollEngine) offload() {
	e.offloadUntil.Store(mono() + int64(offloadHold))
}
