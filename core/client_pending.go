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
		cx := a.cx
		if cx.closeReq || cx.closeWriteReq {
			return ErrClosed
		}
		if cx.pendingN >= a.maxSend() {
			a.st.stats.SendFailures.Add(1)
			a.postPreLocked(cx, laneEvent{kind: evError, code: ErrCodeSendFail, msg: ErrSendBufferFull.Error()})
			return ErrSendBufferFull
		}
		if !owned {
			b = append([]byte(nil), b...)
		}
		a.queuePendingLocked(cx, b, raw)
		return nil
	}
	a.mu.Unlock()
	return ErrClosed
}

// queuePendingLocked adds b to the queue waiting for the connect, and
// fires OnBufferFull once it reaches the limit; a.mu is held.
func (a *AsyncConnection) queuePendingLocked(cx *connecting, b []byte, raw bool) {
	cx.pending = append(cx.pending, pendingSend{b, raw})
	cx.pendingN += len(b)
	a.st.stats.Sent.Add(1)
	if !cx.pendingFull && cx.pendingN >= a.maxSend() {
		cx.pendingFull = true
		a.postPreLocked(cx, laneEvent{kind: evBufferFull})
	}
}

// postPreLocked queues a callback due while connecting; a.mu is held.
func (a *AsyncConnection) postPreLocked(cx *connecting, ev laneEvent) {
	cx.preEvents = append(cx.preEvents, ev)
	if len(cx.preEvents) == 1 {
		go a.runPre(cx)
	}
}

// runPre runs the callbacks due while connecting that the connect has not
// handed on.
func (a *AsyncConnection) runPre(cx *connecting) {
	cx.preMu.Lock()
	defer cx.preMu.Unlock()
	for {
		a.mu.Lock()
		evs := cx.preEvents
		cx.preEvents = nil
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
	switch ev.kind {
	case evBufferFull:
		a.st.stats.BufferFull.Add(1)
		a.safely("OnBufferFull", func() { call(a.OnBufferFull, a) })
	case evError:
		a.st.stats.countError(ev.code)
		a.safely("OnError", func() {
			if f := a.OnError; f != nil {
				f(a, ev.code, ev.msg)
			}
		})
	}
}
