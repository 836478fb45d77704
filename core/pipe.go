package core

// Piper is a connection that Pipe can join: *TCPConnection,
// *AsyncConnection and *AsyncUdpConnection.
type Piper interface {
	Connection
	PauseRecv()
	ResumeRecv()
	SendQueueSize() int
	Pipe(dst Piper)

	// What Pipe needs of a connection:
	// pipeCallbacks returns where its OnMessage and OnClose are.
	pipeCallbacks() (*func(Connection, []byte), *func(Connection))
	// pipeTo records where its messages (and its peer's EOF) go, and
	// pipedFrom that a Pipe writes into it (halfclose.go).
	pipeTo(dst Piper)
	pipedFrom()
	// forward queues a message piped from src past the limit (src pauses
	// right after, so the queue stays within the limit plus one message)
	// and reports whether the queue is at the limit; if so, the low-water
	// notice is armed: src reads on (ResumeRecv) once the queue holds less
	// than half its limit again.
	forward(src Piper, data []byte) (full bool, err error)
	// waitLowWater reports whether the queue holds less than half its
	// limit; if it does not, src (when not nil) waits for the low-water
	// notice. A source that paused after forward calls it: the notice its
	// forward armed may have come before the pause, and with several
	// sources another one may have filled the queue again since.
	waitLowWater(src Piper) bool
	// closeWrite shuts the write side once the queue is written
	// (halfclose.go).
	closeWrite()
}

func (c *TCPConnection) pipeCallbacks() (*func(Connection, []byte), *func(Connection)) {
	return &c.OnMessage, &c.OnClose
}

func (c *TCPConnection) pipeTo(dst Piper) {
	l := c.linkOrNew()
	c.mu.Lock()
	l.out = dst
	c.mu.Unlock()
}

func (c *TCPConnection) pipedFrom() {
	l := c.linkOrNew()
	c.mu.Lock()
	l.pipedInto = true
	c.mu.Unlock()
}

func (c *TCPConnection) forward(src Piper, b []byte) (bool, error) {
	return c.queue(b, "", false, src)
}

func (c *TCPConnection) waitLowWater(src Piper) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pendingLocked() < c.lowWater() {
		return true
	}
	if src != nil {
		c.x().low.add(src)
	}
	return false
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
	onMessage, onClose := src.pipeCallbacks()
	*onMessage = pipeMessage
	if prev := *onClose; prev != nil {
		*onClose = func(c Connection) {
			prev(c)
			pipeClose(c)
		}
	} else {
		*onClose = pipeClose
	}
	src.pipeTo(dst)
	dst.pipedFrom()
}

// pipeOut returns where c, a Pipe's source, forwards to.
func pipeOut(c Connection) Piper {
	switch c := c.(type) {
	case *TCPConnection:
		if l := c.link.Load(); l != nil {
			return l.out
		}
	case *AsyncConnection:
		return c.link.out
	case *AsyncUdpConnection:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.out
	}
	return nil
}

// pipeMessage is a Pipe's source's OnMessage: a function, not a closure,
// so that a Pipe costs no allocation of its own.
func pipeMessage(c Connection, data []byte) {
	dst := pipeOut(c)
	if dst == nil {
		return
	}
	src := c.(Piper)
	full, err := dst.forward(src, data)
	if err != nil || !full {
		return // dst closing: its close closes src
	}
	// Paused on src's lane, at once. The low-water notice may have come
	// before the pause, when dst wrote fast: then read on.
	src.PauseRecv()
	if dst.waitLowWater(src) {
		src.ResumeRecv()
	}
}

// pipeClose is a Pipe's source's OnClose: the destination is closed once
// what is queued for it is written.
func pipeClose(c Connection) {
	if dst := pipeOut(c); dst != nil {
		dst.Close("")
	}
}

func (a *AsyncConnection) pipeCallbacks() (*func(Connection, []byte), *func(Connection)) {
	return &a.OnMessage, &a.OnClose
}

// pipeTo is TCPConnection.pipeTo for every connection a makes.
func (a *AsyncConnection) pipeTo(dst Piper) {
	c := a.lockLink()
	a.link.out = dst
	a.unlockLink(c)
}

func (a *AsyncConnection) pipedFrom() {
	c := a.lockLink()
	a.link.pipedInto = true
	a.unlockLink(c)
}

// lockLink takes the locks that guard a.link: a.mu, and the lock of the
// connection that reads it (the open one, or the last).
func (a *AsyncConnection) lockLink() *TCPConnection {
	a.mu.Lock()
	c := a.conn
	if c != nil {
		c.mu.Lock()
	}
	return c
}

func (a *AsyncConnection) unlockLink(c *TCPConnection) {
	if c != nil {
		c.mu.Unlock()
	}
	a.mu.Unlock()
}

// forward is Pipe's send: queued past the limit, and the low-water
// notice armed for src when the queue is at the limit (see Piper). While
// a connects or waits for the answer to its protocol's handshake, the
// data waits with Send's (see client_pending.go).
func (a *AsyncConnection) forward(src Piper, b []byte) (full bool, err error) {
	a.mu.Lock()
	if a.state == acOpen && a.cx == nil {
		c := a.conn
		a.mu.Unlock()
		return c.queue(b, "", false, src)
	}
	defer a.mu.Unlock()
	if !a.queueingLocked() {
		return false, ErrClosed
	}
	cx := a.cx
	if cx.closeReq || cx.closeWriteReq {
		return false, ErrClosed
	}
	a.queuePendingLocked(cx, append([]byte(nil), b...), false)
	full = cx.pendingN >= a.maxSend()
	if full {
		cx.low.add(src)
	}
	return full, nil
}

// waitLowWater is TCPConnection.waitLowWater for the connection a makes,
// or for its queue while connecting or handshaking.
func (a *AsyncConnection) waitLowWater(src Piper) bool {
	a.mu.Lock()
	if a.state == acOpen && a.cx == nil {
		c := a.conn
		a.mu.Unlock()
		return c.waitLowWater(src)
	}
	defer a.mu.Unlock()
	if !a.queueingLocked() || a.cx.pendingN < max(a.maxSend()/2, 1) {
		return true
	}
	a.cx.low.add(src)
	return false
}

// lowWaiters are the Pipe sources told to read on once a queue they
// filled holds less than half its limit: one, or several when several
// sources pipe into one destination (each paused by the send that found
// the queue full, and each resumed by the notice).
type lowWaiters struct {
	first Piper
	more  []Piper
}

// armed reports whether a source waits.
func (w *lowWaiters) armed() bool { return w.first != nil }

// add makes src wait (once; nil is ignored).
func (w *lowWaiters) add(src Piper) {
	switch {
	case src == nil || w.first == src:
	case w.first == nil:
		w.first = src
	default:
		for _, p := range w.more {
			if p == src {
				return
			}
		}
		w.more = append(w.more, src)
	}
}

// addAll makes the sources of o wait too.
func (w *lowWaiters) addAll(o lowWaiters) {
	w.add(o.first)
	for _, p := range o.more {
		w.add(p)
	}
}

// take disarms w and returns the sources that waited.
func (w *lowWaiters) take() lowWaiters {
	t := *w
	*w = lowWaiters{}
	return t
}

// resume tells every source of w to read on; call it without locks held
// (a source's ResumeRecv takes its own).
func (w lowWaiters) resume() {
	if w.first != nil {
		w.first.ResumeRecv()
	}
	for _, p := range w.more {
		p.ResumeRecv()
	}
}
