package core

import (
	"time"
	"unsafe"
)

// The fast path of a Pipe between two raw connections: the engine moves
// what the source receives to the destination's socket itself (on Linux's
// epoll engine with splice(2), through a kernel pipe), without a message
// for OnMessage, a copy into the destination's queue or a hop through
// user code. It is taken read by read, only while it changes nothing
// that can be seen: both connections raw (no Protocol), the source's
// OnMessage still Pipe's, nothing buffered on the source, the destination
// open with an empty queue. Otherwise the bytes go the usual way
// (Received, OnMessage, the destination's queue). What the destination's
// socket does not take at once goes to the front of its queue, as the
// usual path would queue it, so backpressure, Close, half-close and the
// counters stay Pipe's.

// Splicer is implemented by sockets whose engine can move a Pipe's bytes
// from one socket to another itself (see Stream.SpliceStart). It is
// optional: core uses it only when both sockets of a Pipe have it.
type Splicer interface {
	// CanSplice reports whether the engine can move bytes read from
	// this socket to dst.
	CanSplice(dst Socket) bool
}

// funcID is the identity of a func value (its closure); nil for nil.
func funcID(f func(Connection, []byte)) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&f))
}

// pipeMessageID is pipeMessage's identity: the OnMessage of a Pipe's
// source, as long as the user did not set another.
var pipeMessageID = funcID(pipeMessage)

// spliceTarget returns the destination's open connection when c, on its
// lane, forwards every message unchanged to one through a Pipe; and the
// source as that Pipe sees it (c, or its AsyncConnection).
func (c *TCPConnection) spliceTarget() (*TCPConnection, Piper) {
	l := c.link.Load()
	if l == nil {
		return nil, nil
	}
	c.mu.Lock()
	out := l.out
	c.mu.Unlock()
	if out == nil {
		return nil, nil
	}
	var src Piper = c
	if a := c.client(); a != nil {
		if c.OnMessage != nil || funcID(a.OnMessage) != pipeMessageID {
			return nil, nil
		}
		src = a
	} else if funcID(c.OnMessage) != pipeMessageID {
		return nil, nil
	}
	switch d := out.(type) {
	case *TCPConnection:
		return d, src
	case *AsyncConnection:
		return d.current(), src
	}
	return nil, nil
}

// SpliceStart is asked by the engine, before it reads for this
// connection, whether it may move what it reads straight to another
// socket: it returns the destination when the connection is the source of
// a Pipe between raw connections whose sockets are Splicers, Pipe still
// owns its OnMessage, nothing is buffered, it is neither paused nor
// closing, and the destination is open with nothing queued. The
// destination's queue is then held for the engine (sends made meanwhile
// queue behind what it writes), and so is the connection's lane; the
// engine writes to the destination's socket and must call SpliceEnd. nil:
// read and call Received as usual. Only the goroutine that reads the
// connection calls it.
func (s *Stream) SpliceStart() *Stream {
	c := (*TCPConnection)(s)
	if c.link.Load() == nil || c.closing() || c.isPaused() {
		return nil
	}
	sp, ok := c.sock.(Splicer)
	if !ok || !c.laneMu.TryLock() {
		return nil
	}
	if !c.opened || len(c.recv) > 0 || c.Protocol != nil || c.closing() || c.isPaused() {
		c.releaseLane()
		return nil
	}
	d, _ := c.spliceTarget()
	if d == nil || !sp.CanSplice(d.sock) || !d.holdQueue() {
		c.releaseLane()
		return nil
	}
	return (*Stream)(d)
}

// releaseLane lets go of the lane without running user code here (the
// engine may hold its socket's lock): events posted meanwhile run on a
// goroutine of their own, as when posted to a free lane.
func (c *TCPConnection) releaseLane() {
	c.laneMu.Unlock()
	c.evMu.Lock()
	x := c.extra.Load()
	posted := x != nil && len(x.events) > 0
	c.evMu.Unlock()
	if posted && c.laneMu.TryLock() {
		go c.unlockLane()
	}
}

// holdQueue takes c's empty queue for a splice: c is open, raw, and
// nothing is queued or being written.
func (c *TCPConnection) holdQueue() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.connState() != connOpen || c.writeClosedLocked() || c.Protocol != nil || !c.idleLocked() || c.holdWrites {
		return false
	}
	c.writing = true
	return true
}

// Socket returns the connection's socket, for the engine's fast path
// (SpliceStart).
func (s *Stream) Socket() Socket { return s.sock }

// SpliceEnd ends what SpliceStart began: read bytes were taken from this
// connection's socket, wrote of them were written to dst's socket, and
// rest, the bytes between (which the engine holds in memory again), go to
// the front of dst's queue as the usual path would queue them; err is
// dst's socket's write error (rest is then dropped and dst destroyed, as
// after a failed write). The counters move as for a message that Pipe
// forwarded. A full queue pauses the connection as Pipe does. It reports
// false when the connection is paused or closing now: the engine then
// goes on as after Received returned false.
func (s *Stream) SpliceEnd(dst *Stream, read, wrote int, rest []byte, err error) bool {
	c, d := (*TCPConnection)(s), (*TCPConnection)(dst)
	if read > 0 {
		c.bytesRead.Add(int64(read))
		c.stats().BytesRead.Add(int64(read))
		c.lastActive.Store(time.Now().UnixNano())
		c.stats().Requests.Add(1)
		d.stats().Sent.Add(1)
	}
	if wrote > 0 {
		d.wrote(wrote)
	}
	d.mu.Lock()
	d.writing = false
	if err != nil {
		d.ioFailedLocked(err)
		c.unlockLane()
		return !c.isPaused() && !c.closing()
	}
	var src Piper = c // the Piper that paused: c, or its AsyncConnection
	if a := c.client(); a != nil {
		src = a
	}
	full := false
	if len(rest) > 0 && d.connState() != connClosed {
		out := make([]byte, 0, len(rest)+len(d.out))
		out = append(append(out, rest...), d.out...)
		putSendBuf(d.out)
		d.out = out
		full = d.queuedLocked(src)
	}
	if d.idleLocked() {
		d.afterDrainLocked()
		d.unlockSend()
	} else {
		d.kickLocked()
	}
	if full {
		// As Pipe's OnMessage: paused at once, and read on if the
		// low-water notice came before the pause.
		c.PauseRecv()
		if d.waitLowWater(src) {
			c.ResumeRecv()
		}
	}
	c.unlockLane()
	return !c.isPaused() && !c.closing()
}
