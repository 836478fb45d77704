package core

// The queue of an AsyncConnection that is connecting: sends wait in it
// and go out first once connected. It has the limits of a connected
// queue, and its callbacks: OnBufferFull when it reaches
// MaxSendBufferSize, OnError (ErrCodeSendFail) for each send refused
// beyond. They run on a goroutine of their own, one at a time, before
// OnConnect (the connect hands those not yet run to the connection's
// lane) or before the OnError and OnClose of a failed connect.

type pendingSend struct {
	b   []byte
	raw bool
}

func (a *AsyncConnection) send(b []byte, raw, owned bool) error {
	a.mu.Lock()
	switch a.state {
	case acOpen:
		c := a.conn
		a.mu.Unlock()
		return c.send(b, "", raw)
	case acConnecting:
		defer a.mu.Unlock()
		if a.closeReq || a.closeWriteReq {
			return ErrClosed
		}
		limit := a.owner.MaxSendBufferSize
		if a.pendingN >= limit {
			a.owner.stats.SendFailures.Add(1)
			a.postPreLocked(laneEvent{kind: evError, code: ErrCodeSendFail, msg: ErrSendBufferFull.Error()})
			return ErrSendBufferFull
		}
		if !owned {
			b = append([]byte(nil), b...)
		}
		a.pending = append(a.pending, pendingSend{b, raw})
		a.pendingN += len(b)
		a.owner.stats.Sent.Add(1)
		a.pendingFullLocked()
		return nil
	}
	a.mu.Unlock()
	return ErrClosed
}

// pendingFullLocked fires OnBufferFull once the queue waiting for the
// connect reaches the limit; a.mu is held.
func (a *AsyncConnection) pendingFullLocked() {
	if !a.pendingFull && a.pendingN >= a.owner.MaxSendBufferSize {
		a.pendingFull = true
		a.postPreLocked(laneEvent{kind: evBufferFull})
	}
}

// postPreLocked queues a callback due while connecting; a.mu is held.
func (a *AsyncConnection) postPreLocked(ev laneEvent) {
	a.preEvents = append(a.preEvents, ev)
	if len(a.preEvents) == 1 {
		go a.runPre()
	}
}

// runPre runs the callbacks due while connecting that the connect has not
// handed on.
func (a *AsyncConnection) runPre() {
	a.preMu.Lock()
	defer a.preMu.Unlock()
	for {
		a.mu.Lock()
		evs := a.preEvents
		a.preEvents = nil
		a.mu.Unlock()
		if len(evs) == 0 {
			return
		}
		for _, ev := range evs {
			a.runPreEvent(ev)
		}
	}
}

func (a *AsyncConnection) runPreEvent(ev laneEvent) {
	g := a.owner
	switch ev.kind {
	case evBufferFull:
		g.stats.BufferFull.Add(1)
		a.safely("OnBufferFull", func() { call(a.OnBufferFull, a) })
	case evError:
		g.stats.countError(ev.code)
		a.safely("OnError", func() {
			if f := a.OnError; f != nil {
				f(a, ev.code, ev.msg)
			}
		})
	}
}
