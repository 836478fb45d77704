package tcp

import (
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"unsafe"

	"github.com/shunhui19/goes/core"
)

// econn is one connection on the epoll engine: core's Socket.
//
// Every idle connection has one, so it is packed into 128 bytes: the
// descriptor as an int32, the peer's address in raw form (netip.AddrPort
// would take 32 bytes), the flags of the three locks side by side.
type econn struct {
	loop *eloop
	s    *core.Stream

	fdMu sync.RWMutex // Lock to close fd; RLock to use it
	evMu sync.Mutex   // the interest mask
	mu   sync.Mutex   // the dispatcher's queue

	wready  chan struct{} // EPOLLOUT seen, or closed; made by the first writer that waits
	pending *rbuf         // bytes read, not yet delivered; nil when idle (mu)
	eof     error         // set once reading ended (mu)

	fd    int32
	peer  [16]byte // the peer's IP for TCP, IPv4 mapped into IPv6
	scope uint32   // the peer's IPv6 zone (an interface index); 0: none
	port  uint16   // the peer's port
	peer4 bool     // the peer's IP is IPv4

	closed  bool // fdMu
	dropped bool // fdMu: a client socket closed before Serve; its engine count went with it

	reading   bool // evMu, as the next six
	wantOut   bool // a writer waits for EPOLLOUT
	notifyOut bool // core waits for EPOLLOUT (NotifyWritable)
	peerDone  bool // the peer's EOF was read: never read again
	detached  bool // removed from the loop's epoll set before the close
	parked    bool // hung up while not being read: out of the set until reading resumes

	opened  bool // OnConnect ran (mu, as the next three)
	running bool // a goroutine delivers for c (its loop's owner or a worker)
	resume  bool // the worker must wait for a paused connection to resume
	stalled bool // EPOLLIN dropped because pending is high
}

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
			c.fdMu.RUnlock()
			return c.ended(l, io.EOF) // nothing left to deliver: it is over
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
		// nothing is read; work stops reading and waits for the resume.
		c.running, c.resume = true, true
		c.mu.Unlock()
		return c.work(l, nil)
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
// and core closes the socket once they have (or after CloseTimeout).
func (c *econn) peerEOF(l *eloop) bool {
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
		// What is read meanwhile goes to a buffer of its own: reading
		// may go on while these bytes are delivered.
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
// on. While the connection stays paused, nothing is read for it (EPOLLIN
// off) and no goroutine waits for it: waitResume asks core to call Resumed
// when the pause ends and reports false; c stays running meanwhile, so
// that nothing else delivers for it, and Resumed has a worker go on.
func (c *econn) waitResume() bool {
	for !c.s.TryResume() {
		c.mu.Lock()
		c.stallLocked()
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

// setReading turns EPOLLIN on or off.
func (c *econn) setReading(on bool) {
	c.lockEvents()
	c.reading = on
	c.updateEvents()
	c.unlockEvents()
}

// lockEvents takes what changing the interest mask needs, in the order
// every path takes them: fdMu (read: the descriptor stays open), then evMu.
func (c *econn) lockEvents() {
	c.fdMu.RLock()
	c.evMu.Lock()
}

func (c *econn) unlockEvents() {
	c.evMu.Unlock()
	c.fdMu.RUnlock()
}

func (c *econn) isReading() bool {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	return c.reading
}

// updateEvents applies the interest mask; lockEvents is held. A socket
// parked after a hang-up goes back into the set once it is read again.
func (c *econn) updateEvents() {
	if c.detached || c.closed {
		return
	}
	mask := c.maskLocked()
	op := syscall.EPOLL_CTL_MOD
	if c.parked {
		if mask&syscall.EPOLLIN == 0 {
			return
		}
		c.parked = false
		op = syscall.EPOLL_CTL_ADD
	}
	ev := syscall.EpollEvent{Events: mask, Fd: c.fd}
	epollCtl(c.loop.epfd, op, int(c.fd), &ev)
}

// parkHangup takes a socket that hung up while it is not being read out of
// the loop's epoll set: a hang-up is reported whatever the mask, and
// reading on would take everything the kernel holds for it, past the
// read-ahead bound. It goes back when reading resumes (updateEvents). fdMu
// is read-locked.
func (c *econn) parkHangup() {
	c.evMu.Lock()
	if !c.parked && !c.detached {
		c.parked = true
		epollCtl(c.loop.epfd, syscall.EPOLL_CTL_DEL, int(c.fd), nil)
	}
	c.evMu.Unlock()
}

// unread is the number of bytes the kernel holds for reading on fd.
func unread(fd int) int {
	var n int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TIOCINQ, uintptr(unsafe.Pointer(&n))); errno != 0 {
		return 0
	}
	return int(n)
}

// maskLocked is the interest mask; evMu is held.
func (c *econn) maskLocked() uint32 {
	var mask uint32
	if c.reading && !c.peerDone {
		mask |= syscall.EPOLLIN
	}
	if c.wantOut || c.notifyOut {
		mask |= syscall.EPOLLOUT
	}
	return mask
}

// writable runs on the loop when the socket can take more.
func (c *econn) writable() {
	c.lockEvents()
	notify := c.notifyOut
	if c.wantOut || notify {
		c.wantOut, c.notifyOut = false, false
		c.updateEvents()
	}
	c.unlockEvents()
	c.wakeWriter()
	if notify {
		c.s.Writable()
	}
}

// NotifyWritable implements core.WriteNotifier: EPOLLOUT is watched until
// the loop sees it and calls Stream.Writable. A socket that is closed or
// out of the epoll set after a hang-up cannot tell.
func (c *econn) NotifyWritable() bool {
	c.lockEvents()
	defer c.unlockEvents()
	if c.closed || c.detached || c.parked {
		return false
	}
	if !c.notifyOut {
		c.notifyOut = true
		c.updateEvents()
	}
	return true
}

// failNotified tells core, if it waits for EPOLLOUT, that none will come:
// the socket hung up and left the epoll set. Its next write attempt finds
// out how the socket ended.
func (c *econn) failNotified() {
	c.evMu.Lock()
	notify := c.notifyOut
	c.notifyOut = false
	c.evMu.Unlock()
	if notify {
		c.s.Writable()
	}
}

func (c *econn) wakeWriter() {
	c.evMu.Lock()
	ch := c.wready
	c.evMu.Unlock()
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// TryWrite implements core.TryWriter.
func (c *econn) TryWrite(b []byte) (int, error) {
	c.fdMu.RLock()
	defer c.fdMu.RUnlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	for {
		n, err := rawWrite(int(c.fd), b)
		switch err {
		case nil:
			return n, nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return 0, nil
		}
		return 0, os.NewSyscallError("write", err)
	}
}

// Write implements core.Socket: it writes all of b, waiting for EPOLLOUT
// when the kernel is full. core calls it from its writer goroutine only.
func (c *econn) Write(b []byte) (int, error) {
	total := 0
	for len(b) > 0 {
		n, err := c.TryWrite(b)
		total += n
		b = b[n:]
		if err != nil {
			return total, err
		}
		if len(b) == 0 {
			break
		}
		if n == 0 {
			c.lockEvents()
			if c.detached || c.parked { // hung up: the kernel will never take more
				c.unlockEvents()
				return total, syscall.EPIPE
			}
			if c.closed { // closeFD wakes only a writer already waiting
				c.unlockEvents()
				return total, net.ErrClosed
			}
			if c.wready == nil {
				c.wready = make(chan struct{}, 1)
			}
			ch := c.wready
			c.wantOut = true
			c.updateEvents()
			c.unlockEvents()
			<-ch // EPOLLOUT or closeFD; TryWrite tells which
		}
	}
	return total, nil
}

// CloseWrite half-closes the connection.
func (c *econn) CloseWrite() error {
	c.fdMu.RLock()
	defer c.fdMu.RUnlock()
	if c.closed {
		return net.ErrClosed
	}
	return syscall.Shutdown(int(c.fd), syscall.SHUT_WR)
}

// Close implements core.Socket.
func (c *econn) Close() error {
	c.ended(nil, net.ErrClosed)
	return nil
}

// Abort implements core.Aborter: the close sends a reset (SO_LINGER 0).
func (c *econn) Abort() error {
	c.fdMu.RLock()
	if !c.closed {
		setLingerZero(int(c.fd))
	}
	c.fdMu.RUnlock()
	return c.Close()
}

func (c *econn) closeFD() {
	c.fdMu.Lock()
	if c.closed {
		c.fdMu.Unlock()
		return
	}
	c.closed = true
	fd, l := int(c.fd), c.loop
	epollCtl(l.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	syscall.Close(fd)
	// A client socket that core gives up before serving it (a Destroy
	// while it was connecting) may never be served: it leaves the
	// engine now.
	drop := l.eng.client && c.s == nil
	c.dropped = drop
	c.fdMu.Unlock()
	if drop {
		l.eng.releaseClient()
	}
	c.wakeWriter()
	// The engine forgets the connection, unless the descriptor's number
	// already belongs to a newer one.
	l.eng.conns.clear(fd, c)
}

// setPeer records the peer's address that accept4 wrote, without allocating.
func (c *econn) setPeer(rsa *syscall.RawSockaddrAny) {
	switch rsa.Addr.Family {
	case syscall.AF_INET:
		sa := (*syscall.RawSockaddrInet4)(unsafe.Pointer(rsa))
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		c.peer = netip.AddrFrom4(sa.Addr).As16()
		c.port, c.peer4 = uint16(p[0])<<8|uint16(p[1]), true
	case syscall.AF_INET6:
		sa := (*syscall.RawSockaddrInet6)(unsafe.Pointer(rsa))
		p := (*[2]byte)(unsafe.Pointer(&sa.Port))
		c.peer, c.scope = sa.Addr, sa.Scope_id
		c.port = uint16(p[0])<<8 | uint16(p[1])
		c.peer4 = netip.AddrFrom16(sa.Addr).Is4In6()
	}
}

// peerAddr is the peer's address as setPeer recorded it.
func (c *econn) peerAddr() netip.AddrPort {
	a := netip.AddrFrom16(c.peer)
	if c.peer4 {
		a = a.Unmap()
	} else if c.scope != 0 {
		a = a.WithZone(strconv.FormatUint(uint64(c.scope), 10))
	}
	return netip.AddrPortFrom(a, c.port)
}

// LocalAddr implements core.Socket. It asks the kernel, unless the
// listener's address is the answer.
func (c *econn) LocalAddr() net.Addr {
	e := c.loop.eng
	if e.unix || e.fixedLocal {
		return e.laddr
	}
	c.fdMu.RLock()
	defer c.fdMu.RUnlock()
	if !c.closed {
		if sa, err := syscall.Getsockname(int(c.fd)); err == nil {
			switch sa := sa.(type) {
			case *syscall.SockaddrInet4:
				return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
			case *syscall.SockaddrInet6:
				return net.TCPAddrFromAddrPort(netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), uint16(sa.Port)))
			}
		}
	}
	return e.laddr
}

// RemoteAddr implements core.Socket.
func (c *econn) RemoteAddr() net.Addr {
	if c.loop.eng.unix {
		return unixPeer
	}
	return net.TCPAddrFromAddrPort(c.peerAddr())
}

// unixPeer is the address of a Unix socket's peer, which has no name.
var unixPeer = &net.UnixAddr{Net: "unix"}
