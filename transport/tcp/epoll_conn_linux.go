package tcp

import (
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

	reading   bool  // evMu, as the next seven
	wantOut   bool  // a writer waits for EPOLLOUT
	notifyOut bool  // core waits for EPOLLOUT (NotifyWritable)
	peerDone  bool  // the peer's EOF was read: never read again
	detached  bool  // removed from the loop's epoll set before the close
	parked    bool  // hung up while not being read: out of the set until reading resumes
	werr      uint8 // the errno of a write that took the socket's error (see writeFailed)

	opened  bool // OnConnect ran (mu, as the next three)
	running bool // a goroutine delivers for c (its loop's owner or a worker)
	resume  bool // the worker must wait for a paused connection to resume
	stalled bool // EPOLLIN dropped because pending is high
}

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
		c.writeFailed(err)
		return 0, os.NewSyscallError("write", err)
	}
}

// writeFailed remembers the error a write (or a splice into the socket)
// failed with. The kernel reports a socket's error once, to whichever call
// asks first: after a write took the peer's reset, a read returns 0 as for
// the peer's EOF, and the loop must end the connection with the reset
// (peerEOF) rather than as a clean close, which a Pipe would pass on as a
// half-close. EPIPE is not remembered: it says only that sending is over,
// which the peer's FIN followed by its reset, or a reset already reported
// to a read, say too. It runs on the failure only; fdMu is read-locked.
func (c *econn) writeFailed(err error) {
	if e, ok := err.(syscall.Errno); ok && e != syscall.EPIPE && e < 256 {
		c.evMu.Lock()
		if c.werr == 0 {
			c.werr = uint8(e)
		}
		c.evMu.Unlock()
	}
}

// resetCause is why reading ends at a hang-up, or at a read of 0 bytes:
// the error a write took (writeFailed), else the socket's pending error
// when the hang-up came with EPOLLERR (getsockopt SO_ERROR, on this rare
// path only), else nil: the peer's EOF. A pending EPIPE is the reset of a
// peer whose EOF came first, which a read reports as the EOF: so does
// resetCause. With EPOLLERR in events, fdMu is read-locked.
func (c *econn) resetCause(events uint32) error {
	c.evMu.Lock()
	e := syscall.Errno(c.werr)
	c.evMu.Unlock()
	if e == 0 && events&syscall.EPOLLERR != 0 {
		if n, err := syscall.GetsockoptInt(int(c.fd), syscall.SOL_SOCKET, syscall.SO_ERROR); err == nil && syscall.Errno(n) != syscall.EPIPE {
			e = syscall.Errno(n)
		}
	}
	if e == 0 {
		return nil
	}
	return os.NewSyscallError("read", e)
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
