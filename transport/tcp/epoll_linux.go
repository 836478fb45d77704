package tcp

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/shunhui19/goes/core"
)

// The epoll engine. A few event loops (GOMAXPROCS of them) own every
// socket: each waits in epoll (level-triggered) and reads ready sockets
// into its read buffer. Every loop watches the listening socket too
// (EPOLLEXCLUSIVE, so one loop wakes per connection) and serves the
// connections it accepts (accept4): no net.Conn is made per connection.
// A loop waits in Go's poller, which watches the loop's epoll descriptor,
// so a quiet loop holds no thread.
//
// How messages reach the handlers: the loop runs them itself. It hands the
// bytes it just read to core (Stream.Received), which frames them and runs
// the connection's callbacks on the loop's goroutine, without a copy and
// without waking another goroutine; that is what makes a loop fast. A
// handler may block, though (a database call), and that must not stall the
// other connections of its loop. So the loop marks itself busy while user
// code runs, and a watchdog looks at the loops every watchTick: a loop busy
// with the same call for blockAfter (2 ms) is handed to a new goroutine,
// which goes on serving the loop's sockets with a read buffer of its own.
// The goroutine that blocked finishes its connection's work when the handler
// returns (the bytes read for that connection meanwhile wait for it, in
// order), then ends. A blocking handler therefore delays its loop's other
// connections by a few milliseconds, once, and costs one goroutine while
// it blocks; handlers that do not block never leave the loop.
//
// A loop that is merely waiting for a CPU looks the same from the outside:
// on a busy machine the kernel may leave its thread unscheduled for a few
// milliseconds in the middle of a quick handler. Before it hands a loop
// over, the watchdog therefore asks the kernel whether any thread waits
// for a CPU right now (see starvation); if so it gives the loop up to
// starvedLimit (20 ms). A blocking handler is thus noticed after 2 to 3 ms
// on a machine with a CPU to spare, later on one without.
//
// Handlers that keep blocking would stall a loop at every call, so two
// handovers within offloadWindow switch the engine to workers for
// offloadHold: a loop then copies the bytes it read and hands them to a
// worker goroutine (reused across connections) that runs the handlers.
// When the hold ends the loops run handlers again; handlers that still
// block are handed over twice more and switch the engine back.
//
// A connection that is paused (PauseRecv) is handed to a worker goroutine
// that waits for it to resume, and so is the end of a connection closed
// from outside its loop. An idle connection holds no goroutine and no read
// buffer: only its descriptor, its state in core and a slot in the
// engine's descriptor table.
//
// Writes go out directly from Send when the kernel takes them; what it does
// not take waits in core's queue, EPOLLOUT is watched, and the loop writes
// the rest when it comes (core.WriteNotifier): a connection that a slow
// peer holds back costs no goroutine. Only a SendFrom reader, which may
// block, is read and written by a goroutine of core's.
// A connection whose handler falls behind stops being read (EPOLLIN is
// dropped) once pendingHigh bytes wait, so memory stays bounded and TCP
// pushes back on the peer.

const pendingHigh = 256 << 10

// DefaultEngine serves a Goer whose Engine is empty (and GOES_ENGINE
// unset): the epoll engine on Linux, the goroutine engine elsewhere.
const DefaultEngine = "epoll"

// The watchdog looks at the loops every watchTick and hands over a loop
// that has run the same user call for at least blockAfter: a handler that
// waits for something. A shorter limit would also catch handlers that were
// merely descheduled on a busy machine, and each handover costs a goroutine.
const (
	watchTick    = time.Millisecond
	blockAfter   = 2 * time.Millisecond
	starvedLimit = 20 * time.Millisecond // blockAfter while threads wait for a CPU
)

type epollEngine struct {
	g     *core.Goer
	loops []*eloop
	open  sync.WaitGroup // loop, watchdog and worker goroutines

	// The listening socket: a duplicate of the listener's descriptor, in
	// every loop's epoll set (EPOLLEXCLUSIVE: one loop wakes per
	// connection), so each loop accepts (accept4) the connections it serves.
	lfd        int
	laddr      net.Addr // the listener's address
	unix       bool
	fixedLocal bool           // laddr's IP is every connection's local address
	unlistened sync.WaitGroup // a loop's count ends once it stopped accepting
	stopOnce   sync.Once
	lfdOnce    sync.Once

	conns fdTable // every loop's connections, by descriptor

	// Workers are goroutines reused across connections: a goroutine done
	// with one connection waits (up to maxIdleWorkers of them) for the next.
	work chan *econn
	idle atomic.Int32

	bufMu    sync.Mutex
	free     []*rbuf
	loopBufs [][]byte // read buffers of loop goroutines that ended

	// the watchdog
	quit     chan struct{}
	parked   atomic.Bool
	wakeWD   chan struct{}
	handoffs atomic.Int64 // loops handed to a new goroutine
	lastOff  time.Time    // the watchdog's last handover

	// offloadUntil (monotonic nanoseconds, 0: off) is set while handlers
	// keep blocking: the loops then hand messages to workers instead of
	// running them, so that not every blocking call stalls a loop.
	offloadUntil atomic.Int64
}

// Offloading: two handovers within offloadWindow switch the loops to
// workers for offloadHold.
const (
	offloadWindow = 100 * time.Millisecond
	offloadHold   = time.Second
)

// monoBase anchors the engine's monotonic clock.
var monoBase = time.Now()

func mono() int64 { return int64(time.Since(monoBase)) }

// offloading reports whether messages go to workers now; it costs a load
// only, unless handlers blocked recently.
func (e *epollEngine) offloading() bool {
	u := e.offloadUntil.Load()
	if u == 0 {
		return false
	}
	if mono() < u {
		return true
	}
	e.offloadUntil.CompareAndSwap(u, 0)
	return false
}

// offload keeps the loops handing messages to workers for offloadHold.
func (e *epollEngine) offload() {
	e.offloadUntil.Store(mono() + int64(offloadHold))
}

const (
	maxIdleWorkers = 64
	loopBufSize    = 64 << 10
)

// dispatch has c's work done by an idle worker, or a new one.
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
		c.work(nil, nil)
		if e.idle.Add(1) > maxIdleWorkers {
			e.idle.Add(-1)
			return
		}
		c = <-e.work
		e.idle.Add(-1)
	}
}

type eloop struct {
	eng        *epollEngine
	epfd       int
	ep         *os.File        // epfd, watched by Go's poller
	rc         syscall.RawConn // ep's
	wake       int             // eventfd
	unlistened bool            // the listening socket left this loop's set
	backoff    time.Duration   // accept's wait after a failure

	// state is the loop's busy word, see enter: odd while the owner runs
	// user code. The owner moves it from even to odd and back; the
	// watchdog moves it from odd to even when it hands the loop over.
	state atomic.Uint64

	mu     sync.Mutex
	tasks  []func()
	stop   bool
	closed bool // the descriptors are closed
}

// newEpollEngine makes the engine that serves ln's connections.
func newEpollEngine(g *core.Goer, ln net.Listener) (*epollEngine, error) {
	lfd, err := dupListener(ln)
	if err != nil {
		return nil, err
	}
	n := runtime.GOMAXPROCS(0)
	e := &epollEngine{
		g: g, lfd: lfd, laddr: ln.Addr(),
		work: make(chan *econn), quit: make(chan struct{}), wakeWD: make(chan struct{}, 1),
	}
	switch a := ln.Addr().(type) {
	case *net.UnixAddr:
		e.unix = true
	case *net.TCPAddr:
		e.fixedLocal = !a.IP.IsUnspecified()
		setAcceptedOptions(lfd)
	}
	for i := 0; i < n; i++ {
		l, err := newLoop(e)
		if err == nil {
			ev := syscall.EpollEvent{Events: syscall.EPOLLIN | epollExclusive, Fd: int32(lfd)}
			if err = syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, lfd, &ev); err != nil {
				l.close()
				err = os.NewSyscallError("epoll_ctl", err)
			}
		}
		if err != nil {
			for _, l := range e.loops {
				l.close()
			}
			syscall.Close(lfd)
			return nil, err
		}
		e.loops = append(e.loops, l)
	}
	e.unlistened.Add(len(e.loops))
	for _, l := range e.loops {
		e.startLoop(l)
	}
	e.open.Add(1)
	go e.watch()
	return e, nil
}

// epollExclusive is EPOLLEXCLUSIVE (Linux 4.5), which package syscall
// does not name.
const epollExclusive = 1 << 28

// dupListener returns a non-blocking duplicate of ln's descriptor. The
// listener keeps its own: it is what a reload hands over.
func dupListener(ln net.Listener) (int, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("goes: the epoll engine cannot serve a %T", ln)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(f uintptr) {
		fd, derr = syscall.Dup(int(f))
	}); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, os.NewSyscallError("dup", derr)
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return -1, os.NewSyscallError("fcntl", err)
	}
	return fd, nil
}

// setAcceptedOptions sets, on the listening socket, the options Go's net
// package sets on every accepted TCP connection: Linux copies a listening
// socket's options to the sockets it accepts, so this costs no system
// call per connection.
func setAcceptedOptions(fd int) {
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	secs := int(KeepAlivePeriod / time.Second)
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1)
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, secs)
	syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, secs)
}

// serve waits until stopAccepting has taken the listening socket out of
// every loop, then closes it. It is the listener's Serve.
func (e *epollEngine) serve() error {
	e.closeListener()
	return nil
}

// closeListener closes the listening socket once no loop watches it.
func (e *epollEngine) closeListener() {
	e.unlistened.Wait()
	e.lfdOnce.Do(func() { syscall.Close(e.lfd) })
}

// stopAccepting has every loop stop accepting; serve returns once they have.
func (e *epollEngine) stopAccepting() {
	e.stopOnce.Do(func() {
		for _, l := range e.loops {
			l.post(func() {
				if !l.unlistened {
					l.unlistened = true
					syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, e.lfd, nil)
					e.unlistened.Done()
				}
			})
		}
	})
}

// accept takes the connections waiting on the listening socket, up to a
// batch, and serves them on l; it runs on l's owner and reports false when
// l was handed over meanwhile.
func (l *eloop) accept() bool {
	e := l.eng
	for i := 0; i < 64 && !l.unlistened; i++ {
		var rsa syscall.RawSockaddrAny
		size := uint32(syscall.SizeofSockaddrAny)
		r, _, errno := syscall.Syscall6(syscall.SYS_ACCEPT4, uintptr(e.lfd), uintptr(unsafe.Pointer(&rsa)),
			uintptr(unsafe.Pointer(&size)), syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0, 0)
		switch errno {
		case 0:
		case syscall.EAGAIN:
			return true
		case syscall.EINTR, syscall.ECONNABORTED:
			continue
		default:
			// Out of descriptors or memory: stop accepting on this loop
			// for a while rather than spin on a listener that stays ready.
			l.acceptBackoff(os.NewSyscallError("accept4", errno))
			return true
		}
		l.backoff = 0
		fd := int(r)
		// Registered before core knows it: no other goroutine can close
		// it or ask for EPOLLOUT meanwhile, and no event for it is seen
		// before this returns (this goroutine is the loop).
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fd)}
		if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			syscall.Close(fd)
			continue
		}
		c := &econn{fd: int32(fd), loop: l, reading: true, running: true}
		c.setPeer(&rsa)
		s, err := e.g.Accept(c)
		if err != nil {
			syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
			syscall.Close(fd)
			continue
		}
		c.s = s
		e.conns.set(fd, c)
		if !c.work(l, nil) { // OnConnect
			return false
		}
	}
	return true
}

// acceptBackoff takes the listening socket out of l's epoll set and puts
// it back after a wait that doubles while accepting keeps failing.
func (l *eloop) acceptBackoff(err error) {
	if l.backoff == 0 {
		l.backoff = 5 * time.Millisecond
	} else if l.backoff *= 2; l.backoff > time.Second {
		l.backoff = time.Second
	}
	e := l.eng
	e.g.Log().Warn("accept failed; retrying", "goer", e.g.GetName(), "err", err, "in", l.backoff)
	syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, e.lfd, nil)
	time.AfterFunc(l.backoff, func() {
		l.post(func() {
			if !l.unlistened {
				ev := syscall.EpollEvent{Events: syscall.EPOLLIN | epollExclusive, Fd: int32(e.lfd)}
				syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, e.lfd, &ev)
			}
		})
	})
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

// startLoop starts a goroutine that owns l.
func (e *epollEngine) startLoop(l *eloop) {
	e.open.Add(1)
	go func() {
		defer e.open.Done()
		l.run()
	}()
}

func newLoop(e *epollEngine) (*eloop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	r, _, errno := syscall.Syscall(syscall.SYS_EVENTFD2, 0, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return nil, os.NewSyscallError("eventfd2", errno)
	}
	l := &eloop{eng: e, epfd: epfd, wake: int(r)}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(l.wake)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, l.wake, &ev); err != nil {
		syscall.Close(epfd)
		syscall.Close(l.wake)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	// The loop waits in Go's poller, not in epoll_wait: an epoll
	// descriptor is readable while it has events, so the loop's goroutine
	// parks like any reader and holds no thread while its sockets are quiet.
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(epfd)
		syscall.Close(l.wake)
		return nil, os.NewSyscallError("fcntl", err)
	}
	l.ep = os.NewFile(uintptr(epfd), "epoll")
	if l.rc, err = l.ep.SyscallConn(); err != nil {
		l.ep.Close()
		syscall.Close(l.wake)
		return nil, err
	}
	return l, nil
}

// post runs f on the loop. f must not run user code: only the loop's own
// bookkeeping.
// A loop that has closed drops it.
func (l *eloop) post(f func()) {
	l.mu.Lock()
	if !l.closed {
		l.tasks = append(l.tasks, f)
		l.notifyLocked()
	}
	l.mu.Unlock()
}

// notifyLocked wakes the loop; l.mu is held, so that the eventfd is not
// closed (and its number given to another file) meanwhile.
func (l *eloop) notifyLocked() {
	if l.closed {
		return
	}
	one := [8]byte{1}
	syscall.Write(l.wake, one[:])
}

// enter marks the loop busy running user code; the owner calls it and
// passes the result to leave.
func (l *eloop) enter() uint64 {
	s := l.state.Load() + 1
	l.state.Store(s)
	if e := l.eng; e.parked.Load() && e.parked.CompareAndSwap(true, false) {
		select {
		case e.wakeWD <- struct{}{}:
		default:
		}
	}
	return s
}

// leave ends what enter began. false: the watchdog handed the loop to
// another goroutine meanwhile; the caller owns it no more.
func (l *eloop) leave(s uint64) bool {
	return l.state.CompareAndSwap(s, s+1)
}

// watch is the watchdog: a loop found running the same user call for
// blockAfter is handed to a new goroutine. It parks while no loop runs
// user code for a while, so an idle server does not tick.
func (e *epollEngine) watch() {
	defer e.open.Done()
	t := time.NewTicker(watchTick)
	defer t.Stop()
	prev := make([]uint64, len(e.loops))
	since := make([]time.Time, len(e.loops)) // when prev was first seen
	st := newStarvation()
	quiet := 0
	for {
		var now time.Time
		select {
		case now = <-t.C:
		case <-e.quit:
			return
		}
		busy := false
		for i, l := range e.loops {
			s := l.state.Load()
			if s&1 == 0 {
				prev[i] = s
				continue
			}
			busy = true
			if s != prev[i] {
				prev[i], since[i] = s, now
				continue
			}
			stuck := now.Sub(since[i])
			if stuck < blockAfter || stuck < starvedLimit && st.starved() {
				continue
			}
			if l.state.CompareAndSwap(s, s+1) {
				e.handoffs.Add(1)
				e.startLoop(l)
				if now.Sub(e.lastOff) < offloadWindow {
					e.offload()
				}
				e.lastOff = now
			}
		}
		if busy {
			quiet = 0
			continue
		}
		if quiet++; quiet < 100 {
			continue
		}
		quiet = 0
		e.parked.Store(true)
		for _, l := range e.loops {
			if l.state.Load()&1 == 1 {
				busy = true
			}
		}
		if busy && e.parked.CompareAndSwap(true, false) {
			continue
		}
		t.Stop()
		select {
		case <-e.wakeWD:
		case <-e.quit:
			return
		}
		t.Reset(watchTick)
	}
}

func (e *epollEngine) getLoopBuf() []byte {
	e.bufMu.Lock()
	defer e.bufMu.Unlock()
	if n := len(e.loopBufs); n > 0 {
		b := e.loopBufs[n-1]
		e.loopBufs = e.loopBufs[:n-1]
		return b
	}
	return make([]byte, loopBufSize)
}

func (e *epollEngine) putLoopBuf(b []byte) {
	e.bufMu.Lock()
	// Blocked handlers hold the buffers of the loops they were handed
	// from: keep enough for the handovers to come.
	if len(e.loopBufs) < maxIdleWorkers {
		e.loopBufs = append(e.loopBufs, b)
	}
	e.bufMu.Unlock()
}

// run serves the loop until it stops or is handed to another goroutine.
func (l *eloop) run() {
	buf := l.eng.getLoopBuf()
	defer l.eng.putLoopBuf(buf)
	events := make([]syscall.EpollEvent, 256)
	var n int
	var err error
	poll := func(uintptr) bool {
		n, err = syscall.EpollWait(l.epfd, events, 0)
		return n > 0 || (err != nil && err != syscall.EAGAIN)
	}
	for {
		n, err = 0, nil
		if rerr := l.rc.Read(poll); rerr != nil {
			return // the loop's descriptor was closed
		}
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
			if fd == l.eng.lfd && !l.unlistened {
				if !l.accept() {
					return
				}
				continue
			}
			c := l.eng.conns.get(fd)
			if c == nil || c.loop != l {
				// Not ours (any more): a stale registration would be
				// reported again and again. (The number may belong to
				// another loop's connection now.)
				syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
				continue
			}
			if ev.Events&syscall.EPOLLOUT != 0 {
				c.writable()
			}
			if ev.Events&(syscall.EPOLLIN|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
				if !c.readable(l, buf, ev.Events) {
					return // handed over: the new owner sees the rest again
				}
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
	l.mu.Lock()
	l.closed = true
	l.tasks = nil
	l.mu.Unlock()
	l.ep.Close()
	syscall.Close(l.wake)
}

func (e *epollEngine) shutdown() {
	e.stopAccepting()
	e.closeListener()
	close(e.work) // every connection has ended: idle workers go
	close(e.quit)
	for _, l := range e.loops {
		l.mu.Lock()
		l.stop = true
		l.notifyLocked()
		l.mu.Unlock()
	}
	e.open.Wait()
}

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

	closed bool // fdMu

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
	n, err := syscall.Read(int(c.fd), buf)
	c.fdMu.RUnlock()
	switch {
	case n > 0:
		return c.received(l, buf[:n])
	case err == syscall.EAGAIN, err == syscall.EINTR:
	case n == 0 && err == nil:
		return c.peerEOF(l)
	default:
		return c.ended(l, os.NewSyscallError("read", err))
	}
	return true
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

// received delivers bytes just read. On the loop, unless another goroutine
// is delivering for c (a worker, or a former owner of the loop whose handler
// blocked): the bytes then wait for it, copied, in order.
func (c *econn) received(l *eloop, b []byte) bool {
	c.mu.Lock()
	if !c.running {
		c.running = true
		if !l.eng.offloading() {
			c.mu.Unlock()
			return c.work(l, b)
		}
		c.pending = c.loop.eng.getRbuf()
		c.pending.b = append(c.pending.b, b...)
		c.mu.Unlock()
		l.eng.dispatch(c)
		return true
	}
	if c.pending == nil {
		c.pending = c.loop.eng.getRbuf()
	}
	c.pending.b = append(c.pending.b, b...)
	if len(c.pending.b) >= pendingHigh && !c.stalled {
		c.stalled = true
		c.setReading(false)
	}
	c.mu.Unlock()
	return true
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
// on a worker. It reports what work does.
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
		syscall.EpollCtl(c.loop.epfd, syscall.EPOLL_CTL_DEL, int(c.fd), nil)
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
// stays set for a worker that takes over.
//
// A worker calls it with l == nil. The owner of loop l calls it with l:
// the loop is marked busy meanwhile, so a handler that blocks makes the
// watchdog hand the loop to another goroutine, and work then goes on as a
// worker and returns false (the caller no longer owns the loop). A paused
// connection goes to a worker rather than block the loop.
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
		c.s.WaitResume()
	}
	if len(b) > 0 && !c.s.Received(b) && !c.waitResume(l) {
		return l.leave(tok)
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
				break
			}
			c.running = false
			if c.stalled {
				c.stalled = false
				c.setReading(true)
			}
			c.mu.Unlock()
			break
		}
		c.pending = nil // what is read meanwhile queues in a buffer of its own
		c.mu.Unlock()

		ok := c.s.Received(data.b)

		c.mu.Lock()
		if c.pending == nil {
			data.b = data.b[:0]
			c.pending = data
		} else {
			c.loop.eng.putRbuf(data)
		}
		if c.stalled && len(c.pending.b) < pendingHigh/2 {
			c.stalled = false
			c.setReading(true)
		}
		c.mu.Unlock()
		if !ok && !c.waitResume(l) {
			break
		}
	}
	return l == nil || l.leave(tok)
}

// waitResume follows a Received that returned false. A worker waits for
// the connection to resume; the loop hands a paused connection to a
// worker instead and reports false (c's work continues there).
func (c *econn) waitResume(l *eloop) bool {
	if l != nil && c.s.Paused() {
		c.mu.Lock()
		c.resume = true
		c.mu.Unlock()
		c.loop.eng.dispatch(c)
		return false
	}
	c.s.WaitResume()
	return true
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
	syscall.EpollCtl(c.loop.epfd, op, int(c.fd), &ev)
}

// parkHangup takes a socket that hung up while it is not being read out of
// the loop's epoll set: a hang-up is reported whatever the mask, and
// reading on would take everything the kernel holds for it, past
// pendingHigh. It goes back when reading resumes (updateEvents). fdMu is
// read-locked.
func (c *econn) parkHangup() {
	c.evMu.Lock()
	if !c.parked && !c.detached {
		c.parked = true
		syscall.EpollCtl(c.loop.epfd, syscall.EPOLL_CTL_DEL, int(c.fd), nil)
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
		n, err := syscall.Write(int(c.fd), b)
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

func (c *econn) closeFD() {
	c.fdMu.Lock()
	if c.closed {
		c.fdMu.Unlock()
		return
	}
	c.closed = true
	fd, l := int(c.fd), c.loop
	syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	syscall.Close(fd)
	c.fdMu.Unlock()
	c.wakeWriter()
	// The engine forgets the connection, unless the descriptor's number
	// already belongs to a newer one.
	l.eng.conns.clear(fd, c)
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
