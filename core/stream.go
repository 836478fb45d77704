package core

import (
	"errors"
	"io"
	"time"
)

// Stream is a stream transport's handle on one connection's state machine.
// The engine calls Open once, then Received for every chunk of bytes read,
// and Closed once when the socket is done.
//
// A *Stream is its connection seen from the engine's side (the same memory,
// so that a connection carries no handle of its own); use Conn for the
// connection's API.
type Stream TCPConnection

// Accept makes the connection state machine for an accepted socket. It
// refuses the socket (and counts it) when MaxConnections is reached; the
// transport then closes it.
func (g *Goer) Accept(sock Socket) (*Stream, error) {
	if g.MaxConnections > 0 && g.open.Load() >= int64(g.MaxConnections) {
		g.stats.Rejected.Add(1)
		g.warnLimited("connection refused: MaxConnections reached", "goer", g.name(), "max", g.MaxConnections, "remote", addrString(sock.RemoteAddr()))
		return nil, ErrTooManyConnections
	}
	// A connection the listener accepted while a stop began is served
	// too: refusing it would reset a client that did nothing wrong (in a
	// reload the new process has taken over the socket already). Stop
	// waits for the listener's Serve to return, and Serve for every
	// Accept, before it waits for the connections.
	g.mu.Lock()
	if g.state != goerRunning && g.state != goerStopping {
		g.mu.Unlock()
		return nil, ErrServerStopped
	}
	g.conns.Add(1)
	g.mu.Unlock()
	g.open.Add(1)
	g.stats.Accepted.Add(1)
	c := newTCPConnection(g, sock)
	g.Connections.Set(c)
	return (*Stream)(c), nil
}

// Conn returns the connection.
func (s *Stream) Conn() *TCPConnection { return (*TCPConnection)(s) }

// Open runs the protocol's OnConnOpen and OnConnect. The engine calls it
// before reading.
func (s *Stream) Open() {
	c := (*TCPConnection)(s)
	c.laneMu.Lock()
	if c.handshake() { // OnConnect waits for the protocol's handshake
		c.unlockLane()
		return
	}
	if co, ok := c.Protocol.(ConnOpener); ok {
		func() {
			defer c.recoverCallback("Protocol.OnConnOpen")
			co.OnConnOpen(c)
		}()
	}
	c.call("OnConnect", c.goer.OnConnect)
	c.opened = true
	if x := c.extra.Load(); x != nil && x.drainedEarly {
		x.drainedEarly = false
		c.runEvent(laneEvent{kind: evBufferDrain})
	}
	if x := c.extra.Load(); x != nil && x.drain == drainEarly {
		c.drain() // the graceful stop began before the connection was open
	}
	c.unlockLane()
}

// Received hands bytes read from the socket to the state machine, which
// frames them and runs OnMessage for each message. b is not kept. It
// returns false when the engine must call WaitResume before reading on:
// the connection is closing or paused, or it was paused and resumed while
// the bytes were framed, so that buffered messages may wait for delivery.
func (s *Stream) Received(b []byte) bool {
	c := (*TCPConnection)(s)
	c.bytesRead.Add(int64(len(b)))
	c.stats().BytesRead.Add(int64(len(b)))
	c.lastActive.Store(time.Now().UnixNano())
	return c.deliverPass(b)
}

// deliverPass frames b (after what is buffered) on the lane. It reports
// true only when no pause began meanwhile and none is in force. A pause
// that was lifted again before the pass ended (a send queue that passed
// its high-water mark and was written out at once, a callback on the lane
// that resumed) may have left whole messages buffered: they are delivered
// here, before it returns, rather than wait for the peer's next bytes. It
// reports false when the connection is paused or closing; a pause lifted
// after that is the engine's to notice (WaitResume).
func (c *TCPConnection) deliverPass(b []byte) bool {
	for {
		gen := c.pause.Load() &^ pausedMask
		c.laneMu.Lock()
		c.received(b)
		c.unlockLane()
		w := c.pause.Load()
		if c.closing() || w&pausedMask != 0 {
			return false
		}
		if w == gen {
			return true // no pause came and went meanwhile
		}
		b = nil
	}
}

// Writable is the engine's notice that the socket takes writes again,
// after core asked for it (WriteNotifier). It writes what the kernel takes
// and runs no user code.
func (s *Stream) Writable() { (*TCPConnection)(s).writable() }

// Paused reports whether the connection is paused now. Engines call
// WaitResume whenever Received returns false rather than asking Paused: a
// pause may have ended in between with messages still buffered.
func (s *Stream) Paused() bool { return (*TCPConnection)(s).isPaused() }

// WaitResume blocks while the connection is paused, delivering the
// messages already buffered whenever it is resumed, until it is resumed
// with nothing pending. It returns false if the connection is closing.
// It returns at once when the connection is neither paused nor closing
// and nothing buffered is deliverable.
func (s *Stream) WaitResume() bool {
	c := (*TCPConnection)(s)
	for {
		c.mu.Lock()
		var ch chan struct{}
		paused := c.isPaused()
		if paused {
			ch = c.x().resumed
		}
		c.mu.Unlock()
		if paused {
			<-ch
			continue
		}
		if c.closing() {
			return false
		}
		if c.deliverPass(nil) {
			return true
		}
	}
}

// TryResume is WaitResume for a goroutine that must not block (an event
// loop): unless the connection is paused it delivers the messages already
// buffered and reports true. It reports false when the connection is
// paused, or paused again while delivering (a send queue past its
// high-water mark); the engine then calls WaitResume from a goroutine that
// may wait, or NotifyResume.
func (s *Stream) TryResume() bool {
	c := (*TCPConnection)(s)
	for !c.isPaused() {
		if c.deliverPass(nil) || c.closing() {
			return true
		}
	}
	return false
}

// NotifyResume is TryResume's follow-up for an engine whose socket is a
// ResumeNotifier: after TryResume reported false it asks for a call to the
// socket's Resumed once the connection is no longer paused (resumed, or
// closing), so that no goroutine waits for it meanwhile. It reports false,
// asking for nothing, when the connection is not paused now: the engine
// then calls TryResume again. Until Resumed, the engine must deliver
// nothing for the connection.
func (s *Stream) NotifyResume() bool {
	c := (*TCPConnection)(s)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.isPaused() {
		return false
	}
	c.x().notifyResume = true
	return true
}

// Closed ends the connection after the engine's reading stopped with err
// (io.EOF when the peer closed): the socket is closed, the connection leaves
// the store, and OnClose runs once. After io.EOF the socket must still take
// writes: what is queued is flushed first, bounded by CloseTimeout; a
// piped connection may stay open for the other direction (halfclose.go),
// and Closed then returns before the connection ends.
func (s *Stream) Closed(err error) {
	c := (*TCPConnection)(s)
	// A client's peer that ended the connection, maybe before its
	// handshake was answered (checked on the lane).
	ended := c.handshake() && !c.closing() && (err == nil || isClosedError(err))
	if err != nil && !isClosedError(err) && !c.closing() {
		c.post(laneEvent{kind: evError, code: ErrCodeIO, msg: err.Error()})
	}
	if errors.Is(err, io.EOF) {
		if c.passHalfClose(ended) {
			return // a Pipe passed the half-close on; closedAfterEOF ends c
		}
		c.flushAfterEOF()
	}
	c.closedAfterEOF(ended)
}

// closedAfterEOF is the end of Closed: the socket is closed, the
// connection leaves the store, and OnClose runs. ended: see Closed.
func (c *TCPConnection) closedAfterEOF(ended bool) {
	g := c.goer
	c.Destroy()
	c.mu.Lock()
	if x := c.extra.Load(); x != nil && x.closeTask != 0 {
		if t := g.timer.Load(); t != nil {
			t.Del(x.closeTask)
		}
		x.closeTask = 0
	}
	c.mu.Unlock()
	g.Connections.Del(c.ID)
	g.open.Add(-1)
	c.stats().Closed.Add(1)

	c.laneMu.Lock()
	c.evMu.Lock()
	evs := c.takeEventsLocked()
	c.laneDone = true
	c.evMu.Unlock()
	for _, ev := range evs {
		c.runEvent(ev)
	}
	if ended && !c.opened {
		c.callError(ErrCodeConnectFail, ErrConnectFailed.Error()+": the peer closed the connection during the handshake")
	}
	if cc, ok := c.Protocol.(ConnCloser); ok {
		func() {
			defer c.recoverCallback("Protocol.OnConnClose")
			cc.OnConnClose(c)
		}()
	}
	c.call("OnClose", either(c.OnClose, g.OnClose))
	c.recv = nil
	c.recvLen.Store(0)
	c.laneMu.Unlock()
	g.conns.Done()
}
