package core

// An AsyncUdpConnection's pause and its part in a Pipe. Pausing a datagram
// socket stops reading it: what arrives meanwhile waits in the kernel's
// receive buffer (SO_RCVBUF), and beyond that the kernel drops datagrams,
// as UDP does whenever a reader falls behind; nothing tells the peer to
// slow down. In a Pipe each datagram's messages are piped one by one, and
// a datagram destination sends each piped message as one datagram.

// PauseRecv stops reading datagrams until ResumeRecv. Datagrams that
// arrive meanwhile wait in the kernel's receive buffer; once it is full
// the kernel drops them (UDP has no flow control). The messages of a
// datagram already being delivered are all delivered; the next datagram
// waits. It does nothing when there is no socket, and a new socket
// (Reconnect, AutoReconnect) is read again. Safe for concurrent use.
func (a *AsyncUdpConnection) PauseRecv() {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sess
	if s == nil || s.closing.Load() || s.paused.Load() {
		return
	}
	s.resumed = make(chan struct{})
	s.paused.Store(true)
}

// ResumeRecv undoes PauseRecv. Safe for concurrent use.
func (a *AsyncUdpConnection) ResumeRecv() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s := a.sess; s != nil {
		a.resumeLocked(s)
	}
}

// IsPaused reports whether reading is paused (PauseRecv).
func (a *AsyncUdpConnection) IsPaused() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sess != nil && a.sess.paused.Load()
}

// resumeLocked ends the pause of s; a.mu is held.
func (a *AsyncUdpConnection) resumeLocked(s *udpSession) {
	if s.paused.Load() {
		s.paused.Store(false)
		close(s.resumed)
	}
}

// waitResumed blocks the reader of s while s is paused. A close ends the
// pause.
func (a *AsyncUdpConnection) waitResumed(s *udpSession) {
	for s.paused.Load() {
		a.mu.Lock()
		ch := s.resumed
		paused := s.paused.Load()
		a.mu.Unlock()
		if paused {
			<-ch
		}
	}
}

// Pipe forwards every message a receives to dst, as TCPConnection.Pipe
// does: each message decoded from a datagram (the whole datagram without
// a protocol) is sent to dst, encoded with dst's protocol; when dst's send
// queue reaches its MaxSendBufferSize, a stops reading (PauseRecv, with
// the kernel's drops that follow) until dst has written it down to half;
// when a closes, dst is closed once its queue is written.
//
// Into an AsyncUdpConnection (a TCPConnection or AsyncConnection piped
// into a, or another datagram client), every piped message becomes one
// datagram, encoded with a's protocol; one that a's protocol encodes past
// MaxPackageSize is dropped and reported to a's OnError (ErrCodeSendFail).
// Without a protocol on a, a message longer than MaxPackageSize is split
// into datagrams of at most that size. A stream has no message boundaries
// of its own: from a source without a protocol each message is what one
// read returned. Give the source a framing protocol (frame, text) for
// datagrams that mean something. A datagram socket has no half-close:
// the source stream's EOF closes a once its queue is sent.
//
// Call it before Connect or from a's callbacks.
func (a *AsyncUdpConnection) Pipe(dst Piper) { pipe(a, dst) }

var _ Piper = (*AsyncUdpConnection)(nil)

func (a *AsyncUdpConnection) pipeCallbacks() (*func(Connection, []byte), *func(Connection)) {
	return &a.OnMessage, &a.OnClose
}

func (a *AsyncUdpConnection) pipeTo(dst Piper) {
	a.mu.Lock()
	a.out = dst
	a.mu.Unlock()
}

// pipedFrom: a datagram socket has no half to close.
func (a *AsyncUdpConnection) pipedFrom() {}

// closeWrite: a datagram socket has no half-close; the source stream's
// EOF closes a once its queue is sent.
func (a *AsyncUdpConnection) closeWrite() { a.Close("") }

// forward is Pipe's send: one datagram per message (a raw message longer
// than a datagram is split), queued past the limit, and the low-water
// notice armed for src when the queue is at the limit (see Piper).
func (a *AsyncUdpConnection) forward(src Piper, b []byte) (full bool, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sess
	switch {
	case a.state == udpIdle || a.state == udpClosing || a.closeReq:
		return false, ErrClosed
	case a.state == udpOpen && s.closing.Load():
		return false, ErrClosed
	}
	for _, d := range a.datagrams(b) {
		d, _, closeAfter, err := a.encode(d, false)
		if err != nil {
			a.sendFailed(s, err)
			return false, err
		}
		if a.state == udpConnecting {
			a.pending = append(a.pending, append([]byte(nil), d...))
			a.pendingN += len(d)
			a.stats.Sent.Add(1)
			if !a.pendingFull && a.pendingN >= a.maxSend() {
				a.pendingFull = true
				a.post(udpEvent{kind: evBufferFull})
			}
			a.closeReq = a.closeReq || closeAfter
			continue
		}
		// Past the limit (queued: true), as a piped send is; counted here.
		if err := a.writeLocked(s, d, false, true); err != nil {
			return false, err
		}
		a.stats.Sent.Add(1)
		if closeAfter {
			a.beginCloseLocked(s)
		}
	}
	if a.state == udpConnecting {
		full = a.pendingN >= a.maxSend()
	} else {
		full = s.queued >= a.maxSend()
	}
	if full {
		a.low.add(src)
		if a.state == udpConnecting {
			a.lowArmed = true
		} else {
			s.lowArmed = true
		}
	}
	return full, nil
}

// datagrams splits a piped message into the datagrams it is sent as: one,
// unless a has no protocol and it is longer than a datagram.
func (a *AsyncUdpConnection) datagrams(b []byte) [][]byte {
	limit := a.maxDatagram()
	if a.Protocol != nil || len(b) <= limit {
		return [][]byte{b}
	}
	var ds [][]byte
	for len(b) > limit {
		ds = append(ds, b[:limit])
		b = b[limit:]
	}
	return append(ds, b)
}

// lowWater is the queue size below which a piped source reads on.
func (a *AsyncUdpConnection) lowWater() int { return max(a.maxSend()/2, 1) }

// waitLowWater reports whether the queue holds less than half its limit;
// if it does not, src (when not nil) waits for the low-water notice (see
// Piper).
func (a *AsyncUdpConnection) waitLowWater(src Piper) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sess
	if s != nil && s.queued < a.lowWater() || s == nil && a.pendingN < a.lowWater() {
		return true
	}
	if src != nil {
		a.low.add(src)
		if s != nil {
			s.lowArmed = true
		} else {
			a.lowArmed = true
		}
	}
	return false
}

// lowWaterLocked disarms the low-water notice of s and returns what it
// runs once the queue is below half its limit (nil otherwise), for the
// caller to run after unlocking a.mu.
func (a *AsyncUdpConnection) lowWaterLocked(s *udpSession) func() {
	if !s.lowArmed || s.queued >= a.lowWater() && !s.dead {
		return nil
	}
	s.lowArmed = false
	if !a.low.armed() {
		return nil
	}
	return a.low.take().resume
}
