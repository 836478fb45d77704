package tcp

import (
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

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
	closed bool   // the descriptors are closed
	kpipe  *kpipe // the kernel pipe of the splices (epoll_splice_linux.go); nil until the first
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
	if err := epollCtl(epfd, syscall.EPOLL_CTL_ADD, l.wake, &ev); err != nil {
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
	rawWrite(l.wake, one[:])
}

// run serves the loop until it stops or is handed to another goroutine.
func (l *eloop) run() {
	buf := l.eng.getLoopBuf()
	defer l.eng.putLoopBuf(buf)
	events := make([]syscall.EpollEvent, 256)
	var n int
	var err error
	poll := func(uintptr) bool {
		n, err = epollWaitNow(l.epfd, events)
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
				rawRead(l.wake, b[:])
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
				epollCtl(l.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
				continue
			}
			if c.s == nil { // a client socket whose connect was in progress
				l.connected(c)
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
	if l.kpipe != nil {
		l.kpipe.close()
		l.kpipe = nil
	}
	l.mu.Unlock()
	l.ep.Close()
	syscall.Close(l.wake)
}
