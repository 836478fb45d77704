package core

import (
	"errors"
	"fmt"
	"math"
	"runtime/debug"
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
