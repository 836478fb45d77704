package tcp

import (
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

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
// A connection that is paused (PauseRecv, a Pipe whose destination is
// full, a send queue past SendHighWater) is not read at all: EPOLLIN is
// dropped at once, and the kernel's socket buffer and TCP's window hold
// what the peer sends meanwhile. No goroutine waits for it either: core
// calls the socket's Resumed when the pause ends (core.ResumeNotifier),
// which has a worker deliver what was read before the pause, then the
// loop reads on. The end of a connection closed from outside its loop is
// run by a worker too. An idle connection holds no goroutine and no read
// buffer: only its descriptor, its state in core and a slot in the
// engine's descriptor table.
//
// Writes go out directly from Send when the kernel takes them; what it does
// not take waits in core's queue, EPOLLOUT is watched, and the loop writes
// the rest when it comes (core.WriteNotifier): a connection that a slow
// peer holds back costs no goroutine. Only a SendFrom reader, which may
// block, is read and written by a goroutine of core's.
// While a worker (or a loop's former owner) delivers for a connection, the
// loop reads ahead for it straight into one buffer of readAheadSize bytes
// and stops reading it (EPOLLIN is dropped) once that is full, so memory
// stays bounded and TCP pushes back on the peer; the buffer is taken as a
// whole by the deliverer, and the loop reads on into another.
//
// The engine's files: epoll_engine_linux.go (the engine, its workers and
// buffers), epoll_accept_linux.go (the listening socket), epoll_loop_linux.go
// (the event loop), epoll_watchdog_linux.go (the watchdog that hands over a
// loop whose handler blocks), epoll_conn_linux.go (a connection: its
// interest mask, writing, closing), epoll_recv_linux.go (reading and
// delivering) and epoll_dial_linux.go (client connections: connecting on
// a loop, and the loops they share).

// readAheadSize is the capacity of a receive buffer (rbuf): what the loop
// reads ahead, at most, for a connection that another goroutine delivers
// for. It is one read of the loop's own buffer.
const readAheadSize = loopBufSize

// DefaultEngine serves a Goer whose Engine is empty (and GOES_ENGINE
// unset): the epoll engine on Linux, the goroutine engine elsewhere.
const DefaultEngine = "epoll"

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

	// The engine of client connections (epoll_dial_linux.go) has no
	// listening socket (lfd is -1) and stops with its last connection.
	client  bool
	clients int           // open client connections (clientEngine.mu)
	next    atomic.Uint32 // the loop of the next client connection

	// Workers are goroutines reused across connections: a goroutine done
	// with one connection waits (up to maxIdleWorkers of them) for the next.
	work chan *econn
	idle atomic.Int32

	bufMu    sync.Mutex
	free     sync.Pool // of *rbuf
	loopBufs [][]byte  // read buffers of loop goroutines that ended

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
			if err = epollCtl(l.epfd, syscall.EPOLL_CTL_ADD, lfd, &ev); err != nil {
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

// startLoop starts a goroutine that owns l.
func (e *epollEngine) startLoop(l *eloop) {
	e.open.Add(1)
	go func() {
		defer e.open.Done()
		l.run()
	}()
}

func (e *epollEngine) shutdown() {
	e.stopAccepting()
	e.closeListener()
	e.stopLoops()
}

// stopLoops ends the loops, the watchdog and the idle workers once every
// connection has ended.
func (e *epollEngine) stopLoops() {
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

// rbuf is a receive buffer of readAheadSize bytes, kept in the engine's
// pool between uses (the garbage collector empties it when the buffers go
// unused): an idle connection holds none.
type rbuf struct{ b []byte }

func (e *epollEngine) getRbuf() *rbuf {
	if r, _ := e.free.Get().(*rbuf); r != nil {
		return r
	}
	return &rbuf{b: make([]byte, 0, readAheadSize)}
}

func (e *epollEngine) putRbuf(r *rbuf) {
	if r == nil || cap(r.b) != readAheadSize {
		return
	}
	r.b = r.b[:0]
	e.free.Put(r)
}
