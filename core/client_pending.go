package core

// The queue of an AsyncConnection that is connecting, or waiting for the
// answer to its protocol's handshake: sends wait in it and go out first
// once connected (after the answer). It has the limits of a connected
// queue, and its callbacks: OnBufferFull when it reaches
// MaxSendBufferSize, OnError (ErrCodeSendFail) for each send refused
// beyond. They run on a goroutine of their own, one at a time, before
// OnConnect (the connect hands those not yet run to the connection's
// lane) or before the OnError and OnClose of a failed connect; once the
// connection is up (its handshake unanswered), on its lane.

import "fmt"

type pendingSend struct {
	b   []byte
	raw bool
	enc func(c Connection, dst []byte) ([]byte, error) // QueueEncoded
}

func (a *AsyncConnection) send(b []byte, raw, owned bool) error {
	a.mu.Lock()
	if a.state == acOpen && a.cx == nil {
		c := a.conn
		a.mu.Unlock()
		return c.send(b, "", raw)
	}
	defer a.mu.Unlock()
	if !a.queueingLocked() {
		return ErrClosed
	}
	if !owned {
		b = append([]byte(nil), b...)
	}
	return a.pendLocked(pendingSend{b: b, raw: raw}, len(b))
}

// QueueEncoded queues, while a is connecting, a message that encode frames
// on the connection once it is up, in the order of the other sends and in
// place of Protocol.Encode: a protocol's own kinds of message (a WebSocket
// ping, or a binary message on a text connection) sent before the connect.
// size counts against MaxSendBufferSize as Send's data does. encode runs
// with the connection's send lock held, like Encode: it must not call
// methods of c that send or close. It queues while Send does: while a
// connects, and until the peer answers its protocol's handshake
// (ClientHandshaker); else handled is false, nothing was done, and the
// caller sends on the open connection (or reports it closed). Safe for
// concurrent use.
func (a *AsyncConnection) QueueEncoded(size int, encode func(c Connection, dst []byte) ([]byte, error)) (handled bool, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.queueingLocked() {
		return false, nil
	}
	return true, a.pendLocked(pendingSend{enc: encode}, size)
}

// queueingLocked reports whether sends wait for the connection: it is
// being made, or its protocol's handshake is unanswered; a.mu is held.
func (a *AsyncConnection) queueingLocked() bool {
	return a.state == acConnecting || a.state == acOpen && a.cx != nil
}

// pendLocked queues p (size bytes) for the connection, within the limit;
// a.mu is held.
func (a *AsyncConnection) pendLocked(p pendingSend, size int) error {
	cx := a.cx
	if cx.closeReq || cx.closeWriteReq {
		return ErrClosed
	}
	if cx.pendingN >= a.maxSend() {
		a.st.stats.SendFailures.Add(1)
		a.postPreLocked(cx, laneEvent{kind: evError, code: ErrCodeSendFail, msg: ErrSendBufferFull.Error()})
		return ErrSendBufferFull
	}
	a.queuePendingSendLocked(cx, p, size)
	return nil
}

// appendEncodedLocked appends what a QueueEncoded's encode frames; c.mu is
// held.
func (c *TCPConnection) appendEncodedLocked(encode func(Connection, []byte) ([]byte, error)) error {
	dst := &c.out
	if st := c.streamsLocked(); len(st) > 0 {
		dst = &st[len(st)-1].after
	}
	before := len(*dst)
	out, err := encode(c, *dst)
	if err != nil {
		*dst = (*dst)[:before]
		return fmt.Errorf("goes: encode: %w", err)
	}
	*dst = out
	return nil
}

// queuePendingLocked adds b to the queue waiting for the connect, and
// fires OnBufferFull once it reaches the limit; a.mu is held.
func (a *AsyncConnection) queuePendingLocked(cx *connecting, b []byte, raw bool) {
	a.queuePendingSendLocked(cx, pendingSend{b: b, raw: raw}, len(b))
}

func (a *AsyncConnection) queuePendingSendLocked(cx *connecting, p pendingSend, size int) {
	cx.pending = append(cx.pending, p)
	cx.pendingN += size
	a.st.stats.Sent.Add(1)
	if !cx.pendingFull && cx.pendingN >= a.maxSend() {
		cx.pendingFull = true
		a.postPreLocked(cx, laneEvent{kind: evBufferFull})
	}
}

// postPreLocked queues a callback due while connecting (or runs it on the
// connection's lane once there is one); a.mu is held.
func (a *AsyncConnection) postPreLocked(cx *connecting, ev laneEvent) {
	if a.state == acOpen {
		a.conn.post(ev)
		return
	}
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
