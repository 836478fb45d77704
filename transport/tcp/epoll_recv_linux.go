package tcp

import (
	"io"
	"net"
	"os"
	"syscall"

	"github.com/shunhui19/goes/core"
)

// Reading and delivering: the loop reads a ready socket and hands the
// bytes to core on its own goroutine (work); a connection that another
// goroutine delivers for is read ahead into one buffer, and a paused one
// is not read at all until core says it resumed.

// readable reads what the socket has; it runs on the loop's owner, and
// reports false when the loop was handed to another goroutine meanwhile.
func (c *econn) readable(l *eloop, buf []byte, events uint32) bool {
	c.fdMu.RLock()
	if c.closed {
		c.fdMu.RUnlock()
		l.eng.conns.clear(int(c.fd), c)
		return true
	}
	if c.detachIfDone() {
		c.fdMu.RUnlock()
		c.wakeWriter() // a writer waiting for room finds out the socket failed
		c.failNotified()
		return true
	}
	if events&syscall.EPOLLIN == 0 && !c.isReading() {
		// A hang-up or an error while the connection is not being read
		// (its handler is behind, or it is paused).
		if unread(int(c.fd)) == 0 {
			// Nothing left to deliver: it is over. A hang-up is the
			// peer's EOF only when it came with no error: with
			// EPOLLERR it is a reset (or another failure).
			err := c.resetCause(events)
			c.fdMu.RUnlock()
			if err == nil {
				err = io.EOF
			}
			return c.ended(l, err)
		}
		c.parkHangup()
		c.fdMu.RUnlock()
		c.wakeWriter()
		c.failNotified()
		return true
	}
	c.fdMu.RUnlock()

	c.mu.Lock()
	if c.running {
		return c.readAhead(l) // unlocks c.mu
	}
	if c.s.Paused() {
		// Paused while idle (by another goroutine, or by OnConnect):
		// nothing is read, and bytes are waiting: reading stops; work
		// waits for the resume.
		c.running, c.resume = true, true
		c.stallLocked()
		c.mu.Unlock()
		return c.work(l, nil)
	}
	if handled, own := c.splice(l, buf); handled { // a Pipe's fast path
		return own
	}
	var p *rbuf
	if l.eng.offloading() {
		// A worker delivers: read straight into the buffer it takes.
		p = l.eng.getRbuf()
		buf = p.b[:cap(p.b)]
	}
	c.mu.Unlock()
	n, err := c.read(buf)
	if n > 0 {
		if p != nil {
			p.b = p.b[:n]
		}
		return c.received(l, buf[:n], p)
	}
	l.eng.putRbuf(p)
	return c.readDone(l, n, err)
}

// read reads from the socket unless it is closed (net.ErrClosed).
func (c *econn) read(b []byte) (int, error) {
	c.fdMu.RLock()
	defer c.fdMu.RUnlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	return rawRead(int(c.fd), b)
}

// readDone handles a read that returned no bytes: nothing yet, the peer's
// EOF, or an error. l is the loop; it reports what the loop's callers do.
func (c *econn) readDone(l *eloop, n int, err error) bool {
	switch {
	case err == syscall.EAGAIN, err == syscall.EINTR, err == net.ErrClosed:
	case n == 0 && err == nil:
		return c.peerEOF(l)
	default:
		return c.ended(l, os.NewSyscallError("read", err))
	}
	return true
}

// received delivers b, just read into the loop's buffer, on the loop
// without a copy; or, when p holds b, has a worker deliver it. Should
// another goroutine have begun delivering for c meanwhile (the end of a
// connection closed elsewhere), b waits for it.
func (c *econn) received(l *eloop, b []byte, p *rbuf) bool {
	c.mu.Lock()
	if c.running {
		if c.pending == nil {
			c.pending = l.eng.getRbuf()
		}
		c.pending.b = append(c.pending.b, b...)
		c.mu.Unlock()
		l.eng.putRbuf(p)
		return true
	}
	c.running = true
	if p != nil {
		c.pending = p
		c.mu.Unlock()
		l.eng.dispatch(c)
		return true
	}
	c.mu.Unlock()
	return c.work(l, b)
}

// readAhead reads for a connection that another goroutine delivers for (a
// worker, or a former owner of the loop whose handler blocked), or that
// waits for a resume: straight into the spare room of c.pending, where the
// bytes wait for that goroutine, in order. The read-ahead is bounded by
// pending's fixed capacity (readAheadSize); once it is full, or while the
// connection is paused, EPOLLIN is dropped and nothing is read: the
// kernel's socket buffer and TCP's window hold the peer's bytes meanwhile.
// c.mu is held; readAhead releases it.
func (c *econn) readAhead(l *eloop) bool {
	if c.pending == nil {
		c.pending = l.eng.getRbuf()
	}
	p := c.pending
	if len(p.b) == cap(p.b) || c.s.Paused() {
		c.stallLocked()
		c.mu.Unlock()
		return true
	}
	n, err := c.read(p.b[len(p.b):cap(p.b)])
	if n > 0 {
		p.b = p.b[:len(p.b)+n]
		if len(p.b) == cap(p.b) {
			c.stallLocked()
		}
		c.mu.Unlock()
		return true
	}
	c.mu.Unlock()
	return c.readDone(l, n, err)
}

// stallLocked stops reading until unstallLocked; c.mu is held.
func (c *econn) stallLocked() {
	if !c.stalled {
		c.stalled = true
		c.setReading(false)
	}
}

// unstallLocked reads on after stallLocked; c.mu is held.
func (c *econn) unstallLocked() {
	if c.stalled {
		c.stalled = false
		c.setReading(true)
	}
}

// peerEOF records the peer's EOF. Reading stops for good, but the
// descriptor stays open: the answers to what the peer sent still go out,
// and core closes the socket once they have (or after CloseTimeout). A
// read of 0 bytes after a write took the peer's reset is no EOF: the
// connection ends with the reset. A write records what it took before it
// lets go of fdMu (writeFailed): taking fdMu waits for one under way.
// The caller holds no lock of c's.
func (c *econn) peerEOF(l *eloop) bool {
	c.fdMu.Lock()
	c.fdMu.Unlock()
	if err := c.resetCause(0); err != nil {
		return c.ended(l, err)
	}
	c.lockEvents()
	c.peerDone = true
	c.updateEvents()
	c.unlockEvents()
	return c.finish(l, io.EOF)
}

// finish records that reading ended with err and has the connection end
// once what is pending is delivered: on the loop when l is its owner, else
// on a worker. It reports what work does. A connection that waits for a
// resume ends once it is resumed (a close resumes it).
func (c *econn) finish(l *eloop, err error) bool {
	c.mu.Lock()
	if c.eof == nil {
		c.eof = err
	}
	start := !c.running
	c.running = true
	c.mu.Unlock()
	switch {
	case !start:
		return true
	case l != nil:
		return c.work(l, nil)
	}
	c.loop.eng.dispatch(c)
	return true
}

// detachIfDone takes a socket whose peer's EOF was read out of the loop's
// epoll set: only a hang-up or an error can report it now, and those are
// level-triggered, so they would spin the loop until core closes the
// socket. fdMu is read-locked.
func (c *econn) detachIfDone() bool {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if !c.peerDone {
		return false
	}
	if !c.detached {
		c.detached = true
		epollCtl(c.loop.epfd, syscall.EPOLL_CTL_DEL, int(c.fd), nil)
	}
	return true
}

// ended records that reading is over (an error, or a local close) and
// closes the descriptor; l is the loop when its owner calls.
func (c *econn) ended(l *eloop, err error) bool {
	c.closeFD()
	return c.finish(l, err)
}

// work delivers b (bytes just read, not kept) and then whatever is pending
// for c, in order, until nothing is; the first run opens the connection,
// and once reading is over the last one ends it. c.running is set, and
// stays set for a worker that takes over, and while c waits for a resume
// (see waitResume).
//
// A worker calls it with l == nil. The owner of loop l calls it with l:
// the loop is marked busy meanwhile, so a handler that blocks makes the
// watchdog hand the loop to another goroutine, and work then goes on as a
// worker and returns false (the caller no longer owns the loop).
func (c *econn) work(l *eloop, b []byte) bool {
	var tok uint64
	if l != nil {
		tok = l.enter()
	}
	if !c.opened {
		c.opened = true
		c.s.Open()
	}
	if c.resume {
		c.resume = false
		if !c.waitResume() {
			return l.leaveIfOwner(tok)
		}
	}
	if len(b) > 0 && !c.s.Received(b) && !c.waitResume() {
		return l.leaveIfOwner(tok)
	}
	for {
		c.mu.Lock()
		data := c.pending
		if data == nil || len(data.b) == 0 {
			c.loop.eng.putRbuf(data)
			c.pending = nil
			if c.eof != nil {
				err := c.eof
				c.mu.Unlock()
				c.s.Closed(err)
				c.releaseClient()
				break
			}
			c.running = false
			c.unstallLocked()
			c.mu.Unlock()
			break
		}
		// What is read meanwhile goes to a buffer of its own: a loop
		// that stalled (the buffer was full) reads on while these
		// bytes are delivered.
		c.pending = nil
		if !c.s.Paused() {
			c.unstallLocked()
		}
		c.mu.Unlock()

		ok := c.s.Received(data.b)

		c.mu.Lock()
		if c.pending == nil {
			data.b = data.b[:0]
			c.pending = data
		} else {
			c.loop.eng.putRbuf(data)
		}
		c.mu.Unlock()
		if !ok && !c.waitResume() {
			break
		}
	}
	return l.leaveIfOwner(tok)
}

// waitResume follows a Received that returned false: the connection is
// paused or closing. It delivers what core holds when the pause was lifted
// meanwhile (or the connection is closing) and reports true: delivery goes
// on. While the connection stays paused, nothing is read for it and no
// goroutine waits for it: waitResume asks core to call Resumed when the
// pause ends and reports false; c stays running meanwhile, so that nothing
// else delivers for it, and Resumed has a worker go on. EPOLLIN is dropped
// when the loop next finds bytes waiting (readAhead), not here: a pause
// that ends before the peer sends again costs no epoll_ctl.
func (c *econn) waitResume() bool {
	for !c.s.TryResume() {
		c.mu.Lock()
		c.resume = true
		c.mu.Unlock()
		if c.s.NotifyResume() {
			return false // c's work goes on in Resumed
		}
		c.mu.Lock()
		c.resume = false // resumed meanwhile: deliver here
		c.mu.Unlock()
	}
	return true
}

// Resumed implements core.ResumeNotifier: a connection that waitResume left
// paused was resumed (or is closing). A worker delivers what waits for it,
// then reading resumes. It runs with the connection's lock in core held,
// so it only hands the work on.
func (c *econn) Resumed() { c.loop.eng.dispatch(c) }

// A socket of the loops that core does not know as a ResumeNotifier would
// never be resumed once paused.
var (
	_ core.ResumeNotifier = (*econn)(nil)
	_ core.ResumeNotifier = unixClient{}
)
