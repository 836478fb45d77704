package tcp

import (
	"net"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/shunhui19/goes/core"
)

// The fast path of a Pipe between two raw TCP connections (core's
// Stream.SpliceStart): the loop that reads the source moves the bytes to
// the destination's socket with splice(2), through a kernel pipe, so they
// never enter user memory. The kernel pipe is the loop's, made on the
// first splice and closed with the loop: a proxied pair holds no
// descriptor of its own, and an idle one nothing at all. The pipe is
// empty whenever the loop is between two events: what the destination's
// socket does not take at once is read back out of it and goes to the
// front of the destination's queue (SpliceEnd), where the usual path
// would have queued it, and Pipe's backpressure takes over from there.

// spliceMax is the most one splice reads: the read buffer's size, so that
// what the destination does not take fits in it, and a default kernel
// pipe's (16 pages).
const spliceMax = 64 << 10

// spliced counts the reads that took the fast path (tests read it).
var spliced atomic.Int64

// kpipe is a kernel pipe: its read and write ends.
type kpipe struct{ r, w int }

func newKpipe() (*kpipe, error) {
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		return nil, os.NewSyscallError("pipe2", err)
	}
	return &kpipe{r: fds[0], w: fds[1]}, nil
}

func (p *kpipe) close() {
	syscall.Close(p.r)
	syscall.Close(p.w)
}

// takePipe lends the loop's kernel pipe, made on first use; nil when
// none can be made (the bytes then go the usual way).
func (l *eloop) takePipe() *kpipe {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	if p := l.kpipe; p != nil {
		l.kpipe = nil
		return p
	}
	p, err := newKpipe()
	if err != nil {
		return nil
	}
	return p
}

// givePipe takes back an empty pipe that takePipe lent.
func (l *eloop) givePipe(p *kpipe) {
	l.mu.Lock()
	if l.kpipe == nil && !l.closed {
		l.kpipe, p = p, nil
	}
	l.mu.Unlock()
	if p != nil {
		p.close()
	}
}

// CanSplice implements core.Splicer: both sockets are TCP sockets of
// epoll engines.
func (c *econn) CanSplice(dst core.Socket) bool {
	d, ok := dst.(*econn)
	return ok && !c.loop.eng.unix && !d.loop.eng.unix
}

// splice is readable's fast path; c.mu is held and c is not running. It
// reports false, with c.mu still held, when the bytes must go the usual
// way; else it has released c.mu, and own is readable's answer (false:
// the loop was handed to another goroutine meanwhile).
func (c *econn) splice(l *eloop, buf []byte) (handled, own bool) {
	if spliceOff.Load() || !c.opened || c.pending != nil || c.eof != nil {
		return false, false
	}
	c.running = true // no worker starts on c meanwhile
	c.mu.Unlock()
	p := l.takePipe()
	var ds *core.Stream
	if p != nil {
		if ds = c.s.SpliceStart(); ds == nil {
			l.givePipe(p)
		}
	}
	if ds == nil {
		c.mu.Lock()
		if c.eof != nil { // closed meanwhile: end it, as work would
			c.mu.Unlock()
			return true, c.work(l, nil)
		}
		c.running = false
		return false, false
	}
	n, err := -1, error(net.ErrClosed)
	c.fdMu.RLock()
	if !c.closed {
		n, err = spliceFD(int(c.fd), p.w, min(len(buf), spliceMax))
	}
	c.fdMu.RUnlock()
	wrote, werr := 0, error(nil)
	if n > 0 {
		wrote, werr = ds.Socket().(*econn).spliceFrom(p.r, n)
		spliced.Add(1)
	}
	var rest []byte
	if n > wrote {
		if rest = buf[:n-wrote]; !drainPipe(p.r, rest) {
			p.close() // bytes stuck in it: it is not reused
			p = nil
			if werr == nil {
				werr = os.NewSyscallError("read", syscall.EIO)
			}
		}
	}
	if p != nil {
		l.givePipe(p)
	}
	tok := l.enter() // SpliceEnd may run posted callbacks
	ok := c.s.SpliceEnd(ds, max(n, 0), wrote, rest, werr)
	if n > 0 && !ok && !c.waitResume() { // paused: Resumed goes on
		return true, l.leave(tok)
	}
	own = l.leave(tok)
	at := l
	if !own {
		at = nil // the caller is no longer the loop's owner
	}
	switch {
	case n == 0: // the peer's EOF
		c.mu.Lock()
		c.running = false
		c.mu.Unlock()
		return true, c.peerEOF(at) && own
	case n < 0 && err != syscall.EAGAIN && err != syscall.EINTR && err != net.ErrClosed:
		if err == syscall.EINVAL || err == syscall.ENOSYS {
			// The kernel cannot splice these: the usual way from now
			// on (EPOLLIN is level-triggered: the bytes are reported
			// again).
			spliceOff.Store(true)
			break
		}
		c.mu.Lock()
		c.running = false
		c.mu.Unlock()
		return true, c.ended(at, os.NewSyscallError("read", err)) && own
	}
	if c.idle() {
		return true, own
	}
	return true, c.work(at, nil) && own // reading ended meanwhile (a close)
}

// spliceOff is set once the kernel refused a splice as unsupported.
var spliceOff atomic.Bool

// idle clears c.running after a splice unless reading ended meanwhile,
// which work must then finish (c.running stays set for it).
func (c *econn) idle() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.eof != nil || c.pending != nil {
		return false
	}
	c.running = false
	return true
}

// spliceFrom writes the n bytes in pipe r to c's socket: what it takes
// now. err is the socket's failure; EAGAIN is none (the rest waits in the
// pipe).
func (c *econn) spliceFrom(r, n int) (int, error) {
	c.fdMu.RLock()
	defer c.fdMu.RUnlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	wrote := 0
	for wrote < n {
		m, err := spliceFD(r, int(c.fd), n-wrote)
		switch {
		case m > 0:
			wrote += m
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			return wrote, nil
		default:
			c.writeFailed(err)
			return wrote, os.NewSyscallError("splice", err)
		}
	}
	return wrote, nil
}

// drainPipe reads exactly len(b) bytes out of pipe r.
func drainPipe(r int, b []byte) bool {
	for len(b) > 0 {
		m, err := rawRead(r, b)
		switch {
		case m > 0:
			b = b[m:]
		case err == syscall.EINTR:
		default:
			return false
		}
	}
	return true
}

// spliceFD is splice(2) from in to out, without waiting (the pipe is
// non-blocking, and so are the sockets): -1 and the error when it failed,
// 0 at the end of in.
func spliceFD(in, out, n int) (int, error) {
	const flags = 1 | 2 // SPLICE_F_MOVE | SPLICE_F_NONBLOCK
	r, _, errno := syscall.RawSyscall6(syscall.SYS_SPLICE, uintptr(in), 0, uintptr(out), 0, uintptr(n), flags)
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}
