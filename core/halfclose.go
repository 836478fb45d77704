package core

// A half-close through a Pipe. When the peer of a piped source shuts down
// its write side (its EOF), the destination's write side is shut down
// once what is queued for it is written (its peer gets a FIN after every
// byte), and the other direction goes on: the source, into which the
// destination is piped back, keeps its socket open for writing until that
// direction ends too (the destination's peer's EOF comes through the same
// way), or until the source is closed (Close, IdleTimeout, a stop). A
// source that nothing is piped into closes after its EOF as any
// connection does.

// passHalfClose runs on the peer's EOF (Stream.Closed). It reports true
// when the connection stays open for the other direction; closedAfterEOF
// then ends it once its write side is shut or it is destroyed.
func (c *TCPConnection) passHalfClose(ended bool) bool {
	c.mu.Lock()
	l := c.link.Load()
	if l == nil || l.out == nil {
		c.mu.Unlock()
		return false
	}
	x := c.x()
	x.peerDone = true
	out, wait := l.out, l.pipedInto && c.connState() == connOpen && !c.shut
	var done chan struct{}
	if wait {
		if x.shutDone == nil {
			x.shutDone = make(chan struct{})
		}
		done = x.shutDone
	}
	c.mu.Unlock()
	out.closeWrite()
	if !wait {
		return false
	}
	go func() { // not the engine's reader: it may be an event loop
		<-done
		c.closedAfterEOF(ended)
	}()
	return true
}

// closeWrite shuts c's write side once its queue is written; reading goes
// on. Sends after it are refused (ErrClosed). When c's peer has finished
// sending already, both ways are done: c closes (Close).
func (c *TCPConnection) closeWrite() {
	c.mu.Lock()
	if c.connState() != connOpen {
		c.mu.Unlock()
		return
	}
	x := c.x()
	if x.peerDone {
		c.mu.Unlock()
		c.Close("")
		return
	}
	x.writeClosed = true
	if c.idleLocked() {
		c.shutdownLocked()
	}
	c.mu.Unlock()
}

// writeClosedLocked reports whether closeWrite was called; c.mu is held.
func (c *TCPConnection) writeClosedLocked() bool {
	x := c.extra.Load()
	return x != nil && x.writeClosed
}

// signalShutLocked releases a connection waiting in passHalfClose: its
// write side is shut, or it is destroyed; c.mu is held.
func (c *TCPConnection) signalShutLocked() {
	if x := c.extra.Load(); x != nil && x.shutDone != nil {
		close(x.shutDone)
		x.shutDone = nil
	}
}

// closeWrite is TCPConnection.closeWrite for a client connection; while
// it connects or waits for the answer to its protocol's handshake, the
// write side shuts once the queued sends are written after it.
func (a *AsyncConnection) closeWrite() {
	a.mu.Lock()
	if a.queueingLocked() {
		a.cx.closeWriteReq = true
		a.mu.Unlock()
		return
	}
	c := a.conn
	open := a.state == acOpen
	a.mu.Unlock()
	if open {
		c.closeWrite()
	}
}
