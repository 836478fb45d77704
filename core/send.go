package core

// The send side of a stream connection: Send and SendFrom queue, the
// engine's write readiness and the flusher write the queue out, and the
// drain and close paths wait for it.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
	"unsafe"
)

// Send buffers up to keepBufferCap are shared through sendBufs between
// connections that are sending; boxes carries the *[]byte holders, so that
// neither a get nor a put allocates.
var sendBufs, boxes sync.Pool

func getSendBuf() []byte {
	p, _ := sendBufs.Get().(*[]byte)
	if p == nil {
		return make([]byte, 0, 512)
	}
	b := *p
	*p = nil
	boxes.Put(p)
	return b
}

func putSendBuf(b []byte) {
	if cap(b) == 0 || cap(b) > keepBufferCap {
		return
	}
	p, _ := boxes.Get().(*[]byte)
	if p == nil {
		p = new([]byte)
	}
	*p = b[:0]
	sendBufs.Put(p)
}

// outPart is a queued reader (SendFrom) followed by the bytes sent after it.
type outPart struct {
	r     io.Reader
	after []byte
	busy  bool // the flusher is reading r (with the lock released)
}

// Send implements Connection. Safe for concurrent use.
func (c *TCPConnection) Send(data string, raw bool) error {
	return c.send(nil, data, raw)
}

// SendBytes implements Connection. Safe for concurrent use.
func (c *TCPConnection) SendBytes(data []byte, raw bool) error {
	return c.send(data, "", raw)
}

// send queues b (or s when b is nil) and starts writing it.
func (c *TCPConnection) send(b []byte, s string, raw bool) error {
	_, err := c.queue(b, s, raw, nil)
	return err
}

// queue is send. A send piped from src (Pipe's forwarding; nil: none)
// takes the data past the limit, since src pauses right after, and arms
// the low-water notice (connExtra.low) for src when the queue is at
// the limit; full reports that.
func (c *TCPConnection) queue(b []byte, s string, raw bool, src Piper) (full bool, err error) {
	c.mu.Lock()
	if c.connState() != connOpen || c.writeClosedLocked() {
		c.mu.Unlock()
		c.sendFailed(ErrClosed)
		return false, ErrClosed
	}
	limit := int(c.maxSend.Load())
	if src == nil && c.pendingLocked() >= limit {
		p := c.Protocol
		c.mu.Unlock()
		c.sendFailed(ErrSendBufferFull)
		if rh, ok := p.(SendRefusalHandler); ok && !raw {
			rh.OnSendRefused(c, ErrSendBufferFull)
		}
		return false, ErrSendBufferFull
	}
	tried := false // the socket was just offered the bytes: it is full
	if raw || c.Protocol == nil {
		c.stats().Sent.Add(1)
		if b == nil {
			b = unsafe.Slice(unsafe.StringData(s), len(s)) // written or copied, not kept
		}
		raw = true
		if c.idleLocked() && !c.holdWrites && len(b) > 0 {
			if tw, ok := c.sock.(TryWriter); ok {
				if b, err = c.writeNow(tw, b); err != nil || len(b) == 0 {
					return false, nil // c.mu is unlocked
				}
				tried = true
			}
		}
	}
	closeAfter, err := c.appendLocked(b, s, raw)
	if err != nil {
		c.mu.Unlock()
		return false, err
	}
	if !raw {
		c.stats().Sent.Add(1)
	}
	if closeAfter {
		c.beginCloseLocked()
	}
	full = c.queuedLocked(src)
	if tried {
		c.awaitWritableLocked()
	} else {
		c.kickLocked()
	}
	return full, nil
}

// queuedLocked follows bytes added to the queue: OnBufferFull once it is
// at the limit (with the low-water notice armed for src, a Pipe's source;
// nil: none, see queue), and the pause past the high-water mark. It
// reports whether the queue is at the limit; c.mu is held.
func (c *TCPConnection) queuedLocked(src Piper) (full bool) {
	n := c.pendingLocked()
	if n >= int(c.maxSend.Load()) {
		full = true
		if !c.full {
			c.full = true
			c.post(laneEvent{kind: evBufferFull})
		}
		if src != nil {
			c.x().low.add(src)
		}
	}
	if n >= c.highWater() && c.pacedLocked() {
		c.pauseLocked(pausedByQueue)
	}
	return full
}

// writeNow writes raw bytes straight from the caller's buffer when nothing
// is queued before them, so that what the kernel takes at once is never
// copied. It returns what is left to queue; when nothing is, or the write
// failed, c.mu is unlocked.
func (c *TCPConnection) writeNow(tw TryWriter, b []byte) ([]byte, error) {
	n, err := tw.TryWrite(b)
	if n > 0 {
		c.wrote(n)
	}
	if err != nil {
		c.ioFailedLocked(err)
		return nil, err
	}
	if n == len(b) {
		c.mu.Unlock()
		return nil, nil
	}
	return b[n:], nil
}

// appendLocked encodes into the queue. It reports whether the protocol asked
// for the connection to close after this message.
func (c *TCPConnection) appendLocked(b []byte, s string, raw bool) (closeAfter bool, err error) {
	dst := &c.out
	if st := c.streamsLocked(); len(st) > 0 {
		dst = &st[len(st)-1].after
	} else if c.out == nil && len(b)+len(s) <= keepBufferCap {
		c.out = getSendBuf() // a big message gets a buffer of its size at once
	}
	if raw || c.Protocol == nil {
		if b != nil {
			*dst = append(*dst, b...)
		} else {
			*dst = append(*dst, s...)
		}
		return false, nil
	}
	if b == nil {
		// Encode neither keeps nor changes data (Protocol's contract),
		// so the string's bytes serve without a copy.
		b = unsafe.Slice(unsafe.StringData(s), len(s))
	}
	before := len(*dst)
	out, err := c.Protocol.Encode(c, *dst, b)
	if err != nil && !errors.Is(err, ErrCloseAfter) {
		*dst = (*dst)[:before]
		return false, fmt.Errorf("goes: encode: %w", err)
	}
	*dst = out
	return err != nil, nil
}

// pendingLocked is the number of bytes accepted and not yet written. The
// chunk being pulled from a SendFrom reader does not count: it is the
// writer's read-ahead (streamChunk at most), not data the user queued, and
// must not refuse what is sent behind the stream.
func (c *TCPConnection) pendingLocked() int {
	n := len(c.out)
	if x := c.extra.Load(); x != nil {
		n += x.inflight - x.streamed
		for _, p := range x.streams {
			n += len(p.after)
		}
	}
	return n
}

// kickLocked writes what it can at once and leaves the rest to a flusher
// goroutine. It unlocks c.mu.
func (c *TCPConnection) kickLocked() {
	if c.writing || c.holdWrites || (len(c.out) == 0 && len(c.streamsLocked()) == 0) {
		c.mu.Unlock()
		return
	}
	if tw, ok := c.sock.(TryWriter); ok && len(c.out) > 0 && c.connState() != connClosed {
		n, err := tw.TryWrite(c.out)
		if n > 0 {
			c.wrote(n)
			c.out = c.out[:copy(c.out, c.out[n:])]
		}
		if err != nil {
			c.ioFailedLocked(err)
			return
		}
		if len(c.out) == 0 && len(c.streamsLocked()) == 0 {
			c.afterDrainLocked()
			c.unlockSend()
			return
		}
	}
	c.awaitWritableLocked()
}

// awaitWritableLocked leaves what is queued to the engine's write notice
// or to a flusher goroutine. It unlocks c.mu.
func (c *TCPConnection) awaitWritableLocked() {
	c.writing = true
	if c.notifyLocked() {
		c.unlockSend()
		return
	}
	c.mu.Unlock()
	go c.flush()
}

// notifyLocked has the engine call Writable when the socket takes writes
// again, if it can and nothing but queued bytes waits (a SendFrom reader
// is read by a flusher goroutine); c.writing is set.
func (c *TCPConnection) notifyLocked() bool {
	wn, ok := c.sock.(WriteNotifier)
	if !ok || len(c.out) == 0 || len(c.streamsLocked()) > 0 || c.connState() == connClosed {
		return false
	}
	c.awaitOut = true
	if wn.NotifyWritable() {
		return true
	}
	c.awaitOut = false
	return false
}

// writable writes what the kernel takes now, when the engine reports the
// socket writable (Stream.Writable).
func (c *TCPConnection) writable() {
	c.mu.Lock()
	if !c.awaitOut {
		c.mu.Unlock()
		return
	}
	c.awaitOut = false
	if c.connState() == connClosed {
		c.writing = false
		c.mu.Unlock()
		return
	}
	if len(c.out) > 0 {
		n, err := c.sock.(TryWriter).TryWrite(c.out)
		if n > 0 {
			c.wrote(n)
			// Not moved to the front: a long queue would be copied at
			// every EPOLLOUT. Appends go on at its end.
			c.out = c.out[n:]
		}
		if err != nil {
			c.writing = false
			c.ioFailedLocked(err)
			return
		}
	}
	if len(c.out) == 0 && len(c.streamsLocked()) == 0 {
		c.writing = false
		c.afterDrainLocked()
		c.unlockSend()
		return
	}
	if c.notifyLocked() {
		c.unlockSend()
		return
	}
	c.unlockSend()
	go c.flush() // a SendFrom reader queued meanwhile, or no notice to come
}

// unlockSend releases c.mu after bytes were written: when a Pipe's source
// waits for this queue to fall below its low-water mark and it has, the
// source reads on (after the unlock: its own lock is taken, and a Pipe
// both ways takes the two in either order).
func (c *TCPConnection) unlockSend() {
	x := c.extra.Load()
	if x == nil || !x.low.armed() || c.pendingLocked() >= c.lowWater() {
		c.mu.Unlock()
		return
	}
	w := x.low.take()
	c.mu.Unlock()
	w.resume()
}

// lowWater is the queue size below which a piped source reads on: half
// the limit, so that it refills the queue while the rest is written.
func (c *TCPConnection) lowWater() int { return max(int(c.maxSend.Load())/2, 1) }

// wrote counts n bytes written. While reading is paused for the queue,
// the peer that takes them is alive: the idle clock starts again.
func (c *TCPConnection) wrote(n int) {
	c.bytesWritten.Add(int64(n))
	c.stats().BytesWritten.Add(int64(n))
	if n > 0 && c.pause.Load()&pausedByQueue != 0 {
		c.lastActive.Store(time.Now().UnixNano())
	}
}

// flush writes the queue until it is empty; it runs on its own goroutine so
// that Send never waits for the peer.
func (c *TCPConnection) flush() {
	x := c.x()
	c.mu.Lock()
	for {
		if len(c.out) == 0 && !c.pullStreamLocked(x) {
			break
		}
		if c.connState() == connClosed {
			break
		}
		buf := c.out
		c.out = x.spare[:0]
		x.spare = nil
		x.inflight = len(buf)
		err := c.writeOut(x, buf)
		x.inflight, x.streamed = 0, 0
		if cap(buf) <= max(keepBufferCap, int(c.maxSend.Load())) && c.connState() != connClosed {
			// Kept while the queue is busy (a piped stream refills
			// it); afterDrainLocked lets a big one go.
			x.spare = buf[:0]
		}
		if err != nil {
			c.writing = false
			c.ioFailedLocked(err)
			return
		}
	}
	c.writing = false
	c.afterDrainLocked()
	c.unlockSend()
}

// flushPiece is the most the flusher writes at a time (an eighth of the
// limit, within 16 and 128 KiB): between pieces the queue's size is
// brought up to date, so that a piped source reads on as soon as the
// queue is below its low-water mark, not once all of it is written.
func (c *TCPConnection) flushPiece() int {
	return min(max(int(c.maxSend.Load())/8, 16<<10), 128<<10)
}

// writeOut writes buf, which the flusher took from the queue (inflight),
// with c.mu unlocked; c.mu is locked again when it returns.
func (c *TCPConnection) writeOut(x *connExtra, buf []byte) error {
	size := c.flushPiece()
	for {
		piece := buf[:min(len(buf), size)]
		c.mu.Unlock()
		n, err := c.sock.Write(piece)
		if n > 0 {
			c.wrote(n)
		}
		buf = buf[n:]
		if err != nil || len(buf) == 0 {
			c.mu.Lock()
			return err
		}
		c.mu.Lock()
		if c.connState() == connClosed { // destroyed meanwhile: the queue is gone
			return net.ErrClosed
		}
		x.inflight -= n
		x.streamed = max(x.streamed-n, 0)
		if x.low.armed() {
			c.unlockSend()
			c.mu.Lock()
		}
	}
}

// pullStreamLocked moves the next bytes of the first queued reader (or what
// was queued behind it, once it ends) into c.out. It reports whether c.out
// now has data. It reads with c.mu unlocked.
func (c *TCPConnection) pullStreamLocked(x *connExtra) bool {
	for len(x.streams) > 0 && len(c.out) == 0 {
		p := x.streams[0]
		if p.r == nil {
			c.out, p.after = p.after, nil
			x.streamed = 0
			x.streams = x.streams[1:]
			continue
		}
		buf := x.spare[:0]
		x.spare = nil
		if cap(buf) < streamChunk {
			buf = make([]byte, 0, streamChunk)
		}
		x.inflight = 0
		p.busy = true
		c.mu.Unlock()
		n, err := io.ReadFull(p.r, buf[:streamChunk])
		c.mu.Lock()
		p.busy = false
		if c.connState() == connClosed { // destroyed meanwhile: the reader is ours to close
			if cl, ok := p.r.(io.Closer); ok {
				cl.Close()
			}
			p.r = nil
			return false
		}
		c.out = buf[:n]
		x.streamed = n
		if err != nil { // io.EOF, io.ErrUnexpectedEOF or a real failure: the stream ends
			if cl, ok := p.r.(io.Closer); ok {
				cl.Close()
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				c.logger().Warn("send stream failed", "conn", c.ID, "err", err)
			}
			p.r = nil
		}
	}
	return len(c.out) > 0
}

// afterDrainLocked runs when the queue became empty: fire OnBufferDrain and
// finish a pending close.
func (c *TCPConnection) afterDrainLocked() {
	// An idle connection holds no send buffer: small ones go back to a
	// pool shared by every connection, big ones to the collector.
	putSendBuf(c.out)
	c.out = nil
	if x := c.extra.Load(); x != nil {
		putSendBuf(x.spare)
		x.spare = nil
	}
	c.resumeLocked(pausedByQueue)
	if c.full && c.connState() != connClosed { // a destroyed queue was dropped, not drained
		c.full = false
		c.post(laneEvent{kind: evBufferDrain})
	}
	if c.connState() == connClosing || c.writeClosedLocked() {
		c.shutdownLocked()
	}
	c.signalDrainedLocked()
}

// signalDrainedLocked releases a Closed waiting for the queue to empty.
func (c *TCPConnection) signalDrainedLocked() {
	if x := c.extra.Load(); x != nil && x.drained != nil {
		close(x.drained)
		x.drained = nil
	}
}

// flushAfterEOF runs when the peer has finished sending: what the handlers
// queued in answer still goes out (a peer may half-close after its request
// and read on), bounded by CloseTimeout, and the connection then closes like
// Close("").
func (c *TCPConnection) flushAfterEOF() {
	c.close("", false)
	c.mu.Lock()
	if c.connState() == connClosed || c.idleLocked() {
		c.mu.Unlock()
		return
	}
	if c.awaitOut {
		// The caller may be the engine's own goroutine, which would
		// report the socket writable only after this returns.
		c.awaitOut = false
		go c.flush()
	}
	x := c.x()
	if x.drained == nil {
		x.drained = make(chan struct{})
	}
	ch := x.drained
	c.mu.Unlock()
	t := time.NewTimer(c.closeTimeout())
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
		c.closeTimedOut()
	}
}

// shutdownLocked ends a flushed connection: half-close so that the peer
// reads everything, then the reader sees EOF (or the close timeout fires)
// and the socket is closed.
func (c *TCPConnection) shutdownLocked() {
	if c.shut {
		return
	}
	c.shut = true
	c.signalShutLocked()
	if cw, ok := c.sock.(closeWriter); ok {
		if err := cw.CloseWrite(); err == nil {
			return
		}
	}
	c.sock.Close()
}

// SendFrom queues r's content for sending without reading it all into
// memory: the connection's writer reads it in chunks as the peer takes them.
// Data sent later queues behind it. If r is an io.Closer it is closed when it
// ends. Raw: the protocol does not see it. Safe for concurrent use.
func (c *TCPConnection) SendFrom(r io.Reader) error {
	c.mu.Lock()
	if c.connState() != connOpen {
		c.mu.Unlock()
		if cl, ok := r.(io.Closer); ok {
			cl.Close()
		}
		return ErrClosed
	}
	x := c.x()
	x.streams = append(x.streams, &outPart{r: r})
	if c.pacedLocked() { // a reader's length is unknown: read on once it is written
		c.pauseLocked(pausedByQueue)
	}
	c.kickLocked()
	return nil
}
