package tcp

import (
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/shunhui19/goes/core"
)

// The epoll engine. A few event loops (GOMAXPROCS of them) own every
// socket: each waits in epoll (level-triggered) and reads ready sockets
// into its one read buffer. Messages must still reach the handlers without
// ever letting a handler block a loop, so a loop hands the bytes it read to
// the connection's dispatcher: a goroutine that exists only while the
// connection has bytes to handle. It runs the connection's callbacks in
// order (core's lane), then ends. An idle connection therefore holds no
// goroutine and no read buffer: only its descriptor, its state in core and
// a map entry in its loop.
//
// Writes go out directly from Send when the kernel takes them; what it does
// not take waits in core's queue, and the writer waits for EPOLLOUT.
// A connection whose handler falls behind stops being read (EPOLLIN is
// dropped) once pendingHigh bytes wait, so memory stays bounded and TCP
// pushes back on the peer.

const pendingHigh = 256 << 10

type epollEngine struct {
	loops []*eloop
	next  atomic.Uint32
	open  sync.WaitGroup // loop and worker goroutines

	// Dispatchers are goroutines reused across connections: a goroutine
	// done with one connection waits (up to maxIdleWorkers of them) for the
	// next, so a request costs no goroutine start and no allocation.
	work chan *econn
	idle atomic.Int32

	bufMu sync.Mutex
	free  []*rbuf
}

const maxIdleWorkers = 64

// dispatch has c's pending bytes delivered by an idle worker, or a new one.
func (e *epollEngine) dispatch(c *econn) {
	select {
	case e.work <- c:
	default:
		e.open.Add(1)
		go e.worker(c)
	}
}

func (e *epollEngine) worker(c *econn) {
	defer e.open.Done()
	for c != nil {
		c.dispatch()
		if e.idle.Add(1) > maxIdleWorkers {
			e.idle.Add(-1)
			return
		}
		c = <-e.work
		e.idle.Add(-1)
	}
}

type eloop struct {
	epfd  int
	wake  int // eventfd
	conns map[int]*econn
	buf   []byte

	mu    sync.Mutex
	tasks []func()
	stop  bool
}

func newEpollEngine() (*epollEngine, error) {
	n := runtime.GOMAXPROCS(0)
	e := &epollEngine{work: make(chan *econn)}
	for i := 0; i < n; i++ {
		l, err := newLoop()
		if err != nil {
			e.shutdown()
			return nil, err
		}
		e.loops = append(e.loops, l)
	}
	for _, l := range e.loops {
		e.open.Add(1)
		go func(l *eloop) {
			defer e.open.Done()
			l.run()
		}(l)
	}
	return e, nil
}

func newLoop() (*eloop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	r, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return nil, os.NewSyscallError("eventfd2", errno)
	}
	l := &eloop{epfd: epfd, wake: int(r), conns: map[int]*econn{}, buf: make([]byte, 64<<10)}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(l.wake)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, l.wake, &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(l.wake)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	return l, nil
}

// post runs f on the loop.
func (l *eloop) post(f func()) {
	l.mu.Lock()
	l.tasks = append(l.tasks, f)
	l.mu.Unlock()
	l.notify()
}

func (l *eloop) notify() {
	one := [8]byte{1}
	syscall.Write(l.wake, one[:])
}

func (l *eloop) run() {
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(l.epfd, events, -1)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return
		}
		for i := 0; i < n; i++ {
			ev := &events[i]
			fd := int(ev.Fd)
			if fd == l.wake {
				var b [8]byte
				syscall.Read(l.wake, b[:])
				if !l.runTasks() {
					l.close()
					return
				}
				continue
			}
			c := l.conns[fd]
			if c == nil {
				// Not ours (any more): a stale registration would be
				// reported again and again.
				syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
				continue
			}
			if ev.Events&syscall.EPOLLOUT != 0 {
				c.writable()
			}
			if ev.Events&(syscall.EPOLLIN|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
				c.readable(l, ev.Events)
			}
		}
	}
}

// runTasks runs the posted tasks; false means the loop must end.
func (l *eloop) runTasks() bool {
	l.mu.Lock()
	tasks, stop := l.tasks, l.stop
	l.tasks = nil
	l.mu.Unlock()
	for _, f := range tasks {
		f()
	}
	return !stop
}

func (l *eloop) close() {
	syscall.Close(l.epfd)
	syscall.Close(l.wake)
}

func (e *epollEngine) shutdown() {
	close(e.work) // every connection has ended: idle workers go
	for _, l := range e.loops {
		l.mu.Lock()
		l.stop = true
		l.mu.Unlock()
		l.notify()
	}
	e.open.Wait()
}

// econn is one connection on the epoll engine: core's Socket.
type econn struct {
	fd     int
	eng    *epollEngine
	loop   *eloop
	s      *core.Stream
	local  net.Addr
	remote net.Addr

	fdMu   sync.RWMutex // Lock to close fd; RLock to use it
	closed bool

	evMu       sync.Mutex // the interest mask
	registered bool       // in the loop's epoll set (changes before it wait for the add)
	reading    bool
	wantOut    bool
	peerDone   bool // the peer's EOF was read: never read again
	detached   bool // removed from the loop's epoll set before the close

	wready chan struct{} // EPOLLOUT seen, or closed; made by the first writer that waits

	mu      sync.Mutex // the dispatcher's queue
	pending *rbuf      // bytes read, not yet delivered; nil when idle
	spare   *rbuf      // the dispatcher's other buffer
	eof     error      // set once reading ended
	opened  bool       // OnConnect ran
	running bool
	stalled bool // EPOLLIN dropped because pending is high
}

// adopt moves an accepted net.Conn onto the engine: its descriptor is
// duplicated and the net.Conn closed, so Go's poller lets go of it.
func (e *epollEngine) adopt(g *core.Goer, conn net.Conn) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		conn.Close()
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		conn.Close()
		return
	}
	fd := -1
	var derr error
	rc.Control(func(f uintptr) { fd, derr = syscall.Dup(int(f)) })
	local, remote := conn.LocalAddr(), conn.RemoteAddr()
	conn.Close()
	if derr != nil || fd < 0 {
		g.Log().Warn("epoll: cannot take the connection", "err", derr)
		return
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return
	}
	l := e.loops[int(e.next.Add(1))%len(e.loops)]
	c := &econn{fd: fd, eng: e, loop: l, local: local, remote: remote, reading: true}
	s, err := g.Accept(c)
	if err != nil {
		c.closeFD()
		return
	}
	c.s = s
	c.mu.Lock()
	c.running = true // the dispatcher opens the connection first
	c.mu.Unlock()
	l.post(func() {
		// Under fdMu, so that the number is not closed (and perhaps given
		// to a newer socket) between the check and the add; with the mask
		// the connection has asked for meanwhile (a writer waiting for room).
		c.fdMu.RLock()
		if c.closed {
			c.fdMu.RUnlock()
			return
		}
		c.evMu.Lock()
		ev := syscall.EpollEvent{Events: c.maskLocked(), Fd: int32(fd)}
		err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &ev)
		c.registered = err == nil
		c.evMu.Unlock()
		c.fdMu.RUnlock()
		if err != nil {
			c.ended(os.NewSyscallError("epoll_ctl", err))
			return
		}
		l.conns[fd] = c
	})
	e.dispatch(c)
}

// readable reads what the socket has; it runs on the loop.
func (c *econn) readable(l *eloop, events uint32) {
	c.fdMu.RLock()
	if c.closed {
		c.fdMu.RUnlock()
		if l.conns[c.fd] == c {
			delete(l.conns, c.fd)
		}
		return
	}
	if c.detachIfDone() {
		c.fdMu.RUnlock()
		c.wakeWriter() // a writer waiting for room finds out the socket failed
		return
	}
	n, err := syscall.Read(c.fd, l.buf)
	c.fdMu.RUnlock()
	switch {
	case n > 0:
		c.enqueue(l.buf[:n])
	case err == syscall.EAGAIN:
		if events&(syscall.EPOLLHUP|syscall.EPOLLERR) != 0 && !c.isReading() {
			c.ended(io.EOF) // gone while not being read: stop the events
		}
	case err == syscall.EINTR:
	case n == 0 && err == nil:
		c.peerEOF()
	default:
		c.ended(os.NewSyscallError("read", err))
	}
}

// rbuf is a receive buffer, kept on the engine's free list between uses:
// an idle connection holds none.
type rbuf struct{ b []byte }

const maxFreeBufs = 1024

func (e *epollEngine) getRbuf() *rbuf {
	e.bufMu.Lock()
	if n := len(e.free); n > 0 {
		r := e.free[n-1]
		e.free = e.free[:n-1]
		e.bufMu.Unlock()
		return r
	}
	e.bufMu.Unlock()
	return &rbuf{b: make([]byte, 0, 16<<10)}
}

func (e *epollEngine) putRbuf(r *rbuf) {
	if r == nil || cap(r.b) > pendingHigh {
		return
	}
	r.b = r.b[:0]
	e.bufMu.Lock()
	if len(e.free) < maxFreeBufs {
		e.free = append(e.free, r)
	}
	e.bufMu.Unlock()
}

// enqueue hands bytes to the dispatcher, starting one if none runs.
func (c *econn) enqueue(b []byte) {
	c.mu.Lock()
	if c.pending == nil {
		c.pending = c.eng.getRbuf()
	}
	c.pending.b = append(c.pending.b, b...)
	if len(c.pending.b) >= pendingHigh && !c.stalled {
		c.stalled = true
		c.setReading(false)
	}
	start := !c.running
	c.running = true
	c.mu.Unlock()
	if start {
		c.eng.dispatch(c)
	}
}

// peerEOF records the peer's EOF. Reading stops for good, but the
// descriptor stays open: the answers to what the peer sent still go out,
// and core closes the socket once they have (or after CloseTimeout).
func (c *econn) peerEOF() {
	c.evMu.Lock()
	c.peerDone = true
	c.updateEvents()
	c.evMu.Unlock()
	c.mu.Lock()
	if c.eof == nil {
		c.eof = io.EOF
	}
	start := !c.running
	c.running = true
	c.mu.Unlock()
	if start {
		c.eng.dispatch(c)
	}
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
		syscall.EpollCtl(c.loop.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	}
	return true
}

// ended records that reading is over (EOF, an error, or a local close);
// the dispatcher closes the connection after delivering what is pending.
func (c *econn) ended(err error) {
	c.closeFD()
	c.mu.Lock()
	if c.eof == nil {
		c.eof = err
	}
	start := !c.running
	c.running = true
	c.mu.Unlock()
	if start {
		c.eng.dispatch(c)
	}
}

// dispatch delivers pending bytes to core in order, on a worker
// goroutine, until nothing is pending. The first run opens the connection.
func (c *econn) dispatch() {
	if !c.opened {
		c.opened = true
		c.s.Open()
	}
	for {
		c.mu.Lock()
		data := c.pending
		if data == nil || len(data.b) == 0 {
			c.eng.putRbuf(data)
			c.eng.putRbuf(c.spare)
			c.pending, c.spare = nil, nil
			if c.eof != nil {
				err := c.eof
				c.mu.Unlock()
				c.s.Closed(err)
				return
			}
			c.running = false
			if c.stalled {
				c.stalled = false
				c.setReading(true)
			}
			c.mu.Unlock()
			return
		}
		c.pending, c.spare = c.spare, nil
		c.mu.Unlock()

		if !c.s.Received(data.b) {
			c.s.WaitResume()
		}

		c.mu.Lock()
		data.b = data.b[:0]
		c.spare = data
		if c.pending == nil {
			c.pending, c.spare = c.spare, nil
		}
		if c.stalled && len(c.pending.b) < pendingHigh/2 {
			c.stalled = false
			c.setReading(true)
		}
		c.mu.Unlock()
	}
}

// setReading turns EPOLLIN on or off.
func (c *econn) setReading(on bool) {
	c.evMu.Lock()
	c.reading = on
	c.updateEvents()
	c.evMu.Unlock()
}

func (c *econn) isReading() bool {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	return c.reading
}

// updateEvents applies the interest mask; evMu is held.
func (c *econn) updateEvents() {
	if c.detached || !c.registered {
		return // the add (still to come) applies the mask
	}
	mask := c.maskLocked()
	c.fdMu.RLock()
	if !c.closed {
		ev := syscall.EpollEvent{Events: mask, Fd: int32(c.fd)}
		syscall.EpollCtl(c.loop.epfd, syscall.EPOLL_CTL_MOD, c.fd, &ev)
	}
	c.fdMu.RUnlock()
}

// maskLocked is the interest mask; evMu is held.
func (c *econn) maskLocked() uint32 {
	var mask uint32
	if c.reading && !c.peerDone {
		mask |= syscall.EPOLLIN
	}
	if c.wantOut {
		mask |= syscall.EPOLLOUT
	}
	return mask
}

// writable runs on the loop when the socket can take more.
func (c *econn) writable() {
	c.evMu.Lock()
	if c.wantOut {
		c.wantOut = false
		c.updateEvents()
	}
	c.evMu.Unlock()
	c.wakeWriter()
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
		n, err := syscall.Write(c.fd, b)
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
			c.evMu.Lock()
			if c.detached { // hung up: the kernel will never take more
				c.evMu.Unlock()
				return total, syscall.EPIPE
			}
			if c.isClosed() { // closeFD wakes only a writer already waiting
				c.evMu.Unlock()
				return total, net.ErrClosed
			}
			if c.wready == nil {
				c.wready = make(chan struct{}, 1)
			}
			ch := c.wready
			c.wantOut = true
			c.updateEvents()
			c.evMu.Unlock()
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
	return syscall.Shutdown(c.fd, syscall.SHUT_WR)
}

// Close implements core.Socket.
func (c *econn) Close() error {
	c.ended(net.ErrClosed)
	return nil
}

func (c *econn) closeFD() {
	c.fdMu.Lock()
	if c.closed {
		c.fdMu.Unlock()
		return
	}
	c.closed = true
	fd, l := c.fd, c.loop
	syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	syscall.Close(fd)
	c.fdMu.Unlock()
	c.wakeWriter()
	// The loop forgets the connection, unless the descriptor's number
	// already belongs to a newer one.
	l.post(func() {
		if l.conns[fd] == c {
			delete(l.conns, fd)
		}
	})
}

func (c *econn) isClosed() bool {
	c.fdMu.RLock()
	defer c.fdMu.RUnlock()
	return c.closed
}

func (c *econn) LocalAddr() net.Addr  { return c.local }
func (c *econn) RemoteAddr() net.Addr { return c.remote }
