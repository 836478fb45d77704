package core

import (
	"errors"
	"fmt"
	"io"
	"math"
	"runtime/debug"
	"time"
)

// The lane: every callback of one connection runs while holding laneMu, so
// callbacks never overlap. The reading goroutine takes the lane with Lock
// to deliver messages; everything else (buffer full and drain, send errors
// from other goroutines) posts an event. Whoever holds the lane runs the
// posted events before letting go of it, and a poster that finds the lane
// free starts a goroutine to run them, so Send never runs user code.

type laneEvent struct {
	kind uint8
	code int
	msg  string
}

const (
	evBufferFull uint8 = iota + 1
	evBufferDrain
	evError
	evGoodbye // the server stops: the protocol's goodbye, then Close
	evDrain   // a graceful stop begins: OnGracefulStop and the protocol's drain
	// evHandshakeTimeout: ConnectTimeout passed before a client's
	// handshake was answered (ignored once OnConnect ran).
	evHandshakeTimeout
)

// post queues ev for the lane.
func (c *TCPConnection) post(ev laneEvent) {
	c.evMu.Lock()
	if c.laneDone {
		c.evMu.Unlock()
		return
	}
	x := c.x()
	x.events = append(x.events, ev)
	c.evMu.Unlock()
	if c.laneMu.TryLock() {
		go c.unlockLane()
	}
}

// takeEventsLocked returns the posted events and clears them; c.evMu is
// held.
func (c *TCPConnection) takeEventsLocked() []laneEvent {
	x := c.extra.Load()
	if x == nil {
		return nil
	}
	evs := x.events
	x.events = nil
	return evs
}

// unlockLane runs the posted events and releases the lane; it makes sure no
// event is left behind by a poster that found the lane taken.
func (c *TCPConnection) unlockLane() {
	for {
		c.evMu.Lock()
		evs := c.takeEventsLocked()
		c.evMu.Unlock()
		for _, ev := range evs {
			c.runEvent(ev)
		}
		if len(evs) > 0 {
			continue
		}
		c.laneMu.Unlock()
		c.evMu.Lock()
		x := c.extra.Load()
		empty := x == nil || len(x.events) == 0
		c.evMu.Unlock()
		if empty || !c.laneMu.TryLock() {
			return
		}
	}
}

func (c *TCPConnection) runEvent(ev laneEvent) {
	g := c.goer
	switch ev.kind {
	case evBufferFull:
		c.stats().BufferFull.Add(1)
		c.call("OnBufferFull", either(c.OnBufferFull, g.OnBufferFull))
	case evBufferDrain:
		if !c.opened {
			c.x().drainedEarly = true
			return
		}
		if bd, ok := c.Protocol.(BufferDrainer); ok {
			func() {
				defer c.recoverCallback("Protocol.OnConnBufferDrain")
				bd.OnConnBufferDrain(c)
			}()
		}
		c.call("OnBufferDrain", either(c.OnBufferDrain, g.OnBufferDrain))
	case evError:
		c.callError(ev.code, ev.msg)
	case evGoodbye:
		if gb, ok := c.Protocol.(Goodbyer); ok {
			func() {
				defer c.recoverCallback("Protocol.Goodbye")
				if b := gb.Goodbye(c); len(b) > 0 {
					c.SendBytes(b, true)
				}
			}()
		}
		c.Close("")
	case evDrain:
		c.drain()
	case evHandshakeTimeout:
		if !c.opened && !c.closing() {
			c.callError(ErrCodeConnectFail, ev.msg)
			c.Destroy()
		}
	}
}

// either returns the connection's own callback, else the Goer's.
func either(own, goer func(Connection)) func(Connection) {
	if own != nil {
		return own
	}
	return goer
}

// call runs a func(Connection) callback, recovering a panic.
func (c *TCPConnection) call(name string, f func(Connection)) {
	if f == nil {
		return
	}
	defer c.recoverCallback(name)
	f(c)
	c.syncLimits()
}

func (c *TCPConnection) callError(code int, msg string) {
	g := c.goer
	c.stats().countError(code)
	c.logger().Debug("connection error", "goer", c.ownerName(), "conn", c.ID, "remote", c.GetRemoteAddress(), "code", code, "err", msg)
	f := c.OnError
	if f == nil {
		f = g.OnError
	}
	if f == nil {
		return
	}
	defer c.recoverCallback("OnError")
	f(c, code, msg)
}

// recoverCallback logs a callback's panic with its stack and closes the
// connection; the server goes on.
func (c *TCPConnection) recoverCallback(name string) {
	r := recover()
	if r == nil {
		return
	}
	c.stats().Panics.Add(1)
	c.logger().Error("callback panicked", "goer", c.ownerName(), "callback", name, "conn", c.ID,
		"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	if name != "OnError" {
		c.callError(ErrCodePanic, fmt.Sprintf("%s panicked: %v", name, r))
	}
	c.Close("")
}

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

// closing reports whether Close or Destroy has begun; it takes no lock: it
// is asked for every package delivered.
func (c *TCPConnection) closing() bool {
	return c.connState() != connOpen
}

// received frames c.recv+b and delivers the messages; the lane is held.
// When one read holds more than one package (pipelined requests), the
// answers are written together once the batch is delivered: one write
// instead of one per answer.
func (c *TCPConnection) received(b []byte) {
	wr := c.frame(b)
	if c.batch {
		c.batch = false
		if wr != nil {
			func() {
				defer c.recoverCallback("Protocol.WritesReleased")
				wr.WritesReleased()
			}()
		}
		c.mu.Lock()
		c.holdWrites = false
		c.kickLocked()
	}
}

// frame does received's work. The protocol is looked up for every
// package: a callback may switch it (an HTTP request upgraded to
// WebSocket) and the bytes after the switch belong to the new one. It
// returns whom to tell when the writes it held are released (see
// WriteBatcher).
func (c *TCPConnection) frame(b []byte) (wr WriteReleaser) {
	if c.closing() {
		return
	}
	data := b
	if len(c.recv) > 0 {
		c.recv = append(c.recv, b...)
		data = c.recv
	}
	off := 0
	for off < len(data) && !c.isPaused() && !c.closing() {
		buf := data[off:]
		p := c.Protocol
		if p == nil { // raw: whatever arrived is the message
			off = len(data)
			c.deliver(buf)
			continue
		}
		if c.pkgLen <= 0 {
			// pkgLen < 0: Input saw -pkgLen bytes of this package
			// (kept from earlier reads) without finding its end.
			var n int
			var err error
			if r, ok := p.(InputResumer); ok {
				n, err = r.InputFrom(c, buf, int(-c.pkgLen))
			} else {
				n, err = p.Input(c, buf)
			}
			if err != nil {
				c.protocolFailed(err)
				return
			}
			if n == 0 {
				if len(buf) > c.maxPackage() {
					c.tooLarge(len(buf))
					return
				}
				c.pkgLen = -int32(len(buf))
				break
			}
			if n < 0 || n > c.maxPackage() {
				c.tooLarge(n)
				return
			}
			c.pkgLen = int32(n)
		}
		if int(c.pkgLen) > len(buf) {
			break
		}
		pkg := buf[:c.pkgLen]
		off += int(c.pkgLen)
		c.pkgLen = 0
		msg, err := p.Decode(c, pkg)
		if err != nil {
			if errors.Is(err, ErrSkip) {
				continue
			}
			if err == ErrEstablished {
				c.established()
				continue
			}
			c.protocolFailed(err)
			return
		}
		if off < len(data) && !c.batch {
			// More bytes follow this package: hold the answers until
			// the packages of this read are delivered.
			c.batch = true
			c.mu.Lock()
			c.holdWrites = true
			c.mu.Unlock()
			if wb, ok := p.(WriteBatcher); ok {
				func() {
					defer c.recoverCallback("Protocol.HoldingWrites")
					wr = wb.HoldingWrites(c)
				}()
			}
		}
		c.deliver(msg)
	}
	c.keep(data, off)
	return wr
}

// keep saves the unconsumed bytes data[off:] in c.recv.
func (c *TCPConnection) keep(data []byte, off int) {
	rest := data[off:]
	switch {
	case len(rest) == 0:
		if cap(c.recv) > keepBufferCap {
			c.recv = nil
		} else {
			c.recv = c.recv[:0]
		}
	case cap(c.recv) > keepBufferCap && len(rest) <= cap(c.recv)/4:
		// A buffer grown for a big package is not kept for the few bytes
		// of the next one: an idle connection would pin it.
		c.recv = append([]byte(nil), rest...)
	case len(c.recv) > 0 && &data[0] == &c.recv[0]:
		c.recv = c.recv[:copy(c.recv, rest)]
	default:
		// Capacity follows the bytes that arrived, not a length the peer
		// announced: a 4-byte header must not cost MaxPackageSize.
		c.recv = append(c.recv[:0], rest...)
	}
	c.recvLen.Store(int32(min(len(c.recv), math.MaxInt32)))
}

func (c *TCPConnection) deliver(msg []byte) {
	c.stats().Requests.Add(1)
	f := c.OnMessage
	if f == nil {
		f = c.goer.OnMessage
	}
	if f == nil {
		return
	}
	defer c.recoverCallback("OnMessage")
	f(c, msg)
	c.syncLimits()
}

// established runs OnConnect once a client's handshake is complete.
func (c *TCPConnection) established() {
	if c.opened || !c.handshake() {
		return
	}
	c.opened = true
	c.call("OnConnect", c.goer.OnConnect)
}

// failCode is code, or ErrCodeConnectFail while a client's handshake is
// under way: the connection was never established.
func (c *TCPConnection) failCode(code int) int {
	if c.handshake() && !c.opened {
		return ErrCodeConnectFail
	}
	return code
}

func (c *TCPConnection) tooLarge(n int) {
	c.callError(c.failCode(ErrCodePackageTooLarge), fmt.Sprintf("%v: %d bytes, limit %d", ErrPackageTooLarge, n, c.maxPackage()))
	c.recv = nil
	c.Close("")
}

func (c *TCPConnection) protocolFailed(err error) {
	code := ErrCodeProtocol
	if errors.Is(err, ErrPackageTooLarge) {
		code = ErrCodePackageTooLarge
	}
	c.callError(c.failCode(code), err.Error())
	c.recv = nil
	c.Close("")
}

// Socket returns the connection's socket, for engines and protocols that
// need the transport below (a *tls.Conn for its connection state, say).
func (c *TCPConnection) Socket() Socket { return c.sock }
