package core

// Piper is a connection that Pipe can join: *TCPConnection,
// *AsyncConnection and *AsyncUdpConnection.
type Piper interface {
	Connection
	PauseRecv()
	ResumeRecv()
	SendQueueSize() int
	Pipe(dst Piper)
	pipeHooks() *pipeHooks
}

// pipeHooks are what Pipe needs of a connection, wherever it keeps it.
type pipeHooks struct {
	onMessage *func(Connection, []byte)
	onClose   *func(Connection)
	// forward queues a piped message past the limit (the source pauses
	// right after, so the queue stays within the limit plus one message)
	// and reports whether the queue is at the limit; if so, the low-water
	// notice is armed.
	forward func(data []byte) (full bool, err error)
	// setLowWater sets what runs once an armed queue holds less than half
	// its limit again.
	setLowWater func(f func())
	// belowLowWater reports whether the queue holds less than half its
	// limit.
	belowLowWater func() bool
	// closeWrite shuts the write side once the queue is written
	// (halfclose.go); halfClose sets what the peer's EOF runs, and
	// whether a Pipe writes into the connection.
	closeWrite func()
	halfClose  func(onPeerEOF func(), pipedInto bool)
}

func (c *TCPConnection) pipeHooks() *pipeHooks {
	return &pipeHooks{
		onMessage: &c.OnMessage,
		onClose:   &c.OnClose,
		forward:   func(data []byte) (bool, error) { return c.queue(data, "", false, true) },
		setLowWater: func(f func()) {
			c.mu.Lock()
			c.x().onLowWater = f
			c.mu.Unlock()
		},
		belowLowWater: c.belowLowWater,
		closeWrite:    c.closeWrite,
		halfClose:     c.setHalfClose,
	}
}

// setHalfClose records a Pipe's part in a half-close: onPeerEOF when c is
// piped somewhere (non-nil), pipedInto when something is piped into c.
func (c *TCPConnection) setHalfClose(onPeerEOF func(), pipedInto bool) {
	c.mu.Lock()
	x := c.x()
	if onPeerEOF != nil {
		x.onPeerEOF = onPeerEOF
	}
	x.pipedInto = x.pipedInto || pipedInto
	c.mu.Unlock()
}

func (c *TCPConnection) belowLowWater() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pendingLocked() < c.lowWater()
}

func (a *AsyncConnection) pipeHooks() *pipeHooks {
	return &pipeHooks{
		onMessage:     &a.OnMessage,
		onClose:       &a.OnClose,
		forward:       a.forward,
		setLowWater:   a.setLowWater,
		belowLowWater: a.belowLowWater,
		closeWrite:    a.closeWrite,
		halfClose:     a.setHalfClose,
	}
}

// Pipe forwards every message c receives to dst (encoded with dst's
// protocol). When dst's send queue reaches its MaxSendBufferSize, c stops
// reading (PauseRecv) until dst has written it down to half of that
// (ResumeRecv), so that c refills the queue while dst writes the rest, and
// memory stays bounded by dst's MaxSendBufferSize plus one message. A
// forwarded message is never refused for a full queue: sends from
// elsewhere that fill dst pause c at its next message. When c closes, dst
// is closed once what is queued for it is written. Pipe sets c's OnMessage
// and OnClose (an OnClose set before still runs first); dst's OnBufferFull
// and OnBufferDrain are the user's and fire as for any connection. For a
// two-way link pipe both ways: a.Pipe(b); b.Pipe(a).
//
// A half-close passes through: when c's peer shuts down its write side,
// dst's write side is shut down once what is queued for it is written (its
// peer gets every byte, then a FIN), and the other direction goes on until
// it ends the same way; then both close. Until then c holds its socket
// (IdleTimeout, Close and a stop end it as any connection).
//
// Call it from c's own callbacks (OnConnect), or before c is connected.
func (c *TCPConnection) Pipe(dst Piper) { pipe(c, dst) }

// Pipe is TCPConnection.Pipe for a client connection; call it before
// Connect or from a's callbacks.
func (a *AsyncConnection) Pipe(dst Piper) { pipe(a, dst) }

func pipe(src, dst Piper) {
	s, d := src.pipeHooks(), dst.pipeHooks()
	*s.onMessage = func(_ Connection, data []byte) {
		full, err := d.forward(data)
		if err != nil || !full {
			return // dst closing: its close closes src
		}
		// Paused on src's lane, at once. The low-water notice may have
		// come before the pause, when dst wrote fast: then read on.
		src.PauseRecv()
		if d.belowLowWater() {
			src.ResumeRecv()
		}
	}
	prev := *s.onClose
	*s.onClose = func(c Connection) {
		if prev != nil {
			prev(c)
		}
		dst.Close("")
	}
	d.setLowWater(src.ResumeRecv)
	s.halfClose(d.closeWrite, false)
	d.halfClose(nil, true)
}

// forward is Pipe's send: queued past the limit, and the low-water
// notice armed when the queue is at the limit (see pipeHooks).
func (a *AsyncConnection) forward(b []byte) (full bool, err error) {
	a.mu.Lock()
	switch a.state {
	case acOpen:
		c := a.conn
		a.mu.Unlock()
		return c.queue(b, "", false, true)
	case acConnecting:
		defer a.mu.Unlock()
		if a.closeReq || a.closeWriteReq {
			return false, ErrClosed
		}
		a.pending = append(a.pending, pendingSend{append([]byte(nil), b...), false})
		a.pendingN += len(b)
		a.owner.stats.Sent.Add(1)
		a.pendingFullLocked()
		full = a.pendingN >= a.maxSendLocked()
		if full {
			a.lowArmed = true
		}
		return full, nil
	}
	a.mu.Unlock()
	return false, ErrClosed
}

// setLowWater sets what runs when the queue falls below half its limit
// after forward reported it full.
func (a *AsyncConnection) setLowWater(f func()) {
	a.mu.Lock()
	a.onLowWater = f
	c := a.conn
	if a.state != acOpen {
		c = nil
	}
	a.mu.Unlock()
	if c != nil {
		c.mu.Lock()
		c.x().onLowWater = f
		c.mu.Unlock()
	}
}

// belowLowWater reports whether the queue holds less than half its limit.
func (a *AsyncConnection) belowLowWater() bool {
	a.mu.Lock()
	if a.state == acOpen {
		c := a.conn
		a.mu.Unlock()
		return c.belowLowWater()
	}
	defer a.mu.Unlock()
	return a.pendingN < max(a.maxSendLocked()/2, 1)
}
