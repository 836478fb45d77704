package tcp

import (
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

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
					epollCtl(l.epfd, syscall.EPOLL_CTL_DEL, e.lfd, nil)
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
		if err := epollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
			syscall.Close(fd)
			continue
		}
		c := &econn{fd: int32(fd), loop: l, reading: true, running: true}
		c.setPeer(&rsa)
		s, err := e.g.Accept(c)
		if err != nil {
			epollCtl(l.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
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
	epollCtl(l.epfd, syscall.EPOLL_CTL_DEL, e.lfd, nil)
	time.AfterFunc(l.backoff, func() {
		l.post(func() {
			if !l.unlistened {
				ev := syscall.EpollEvent{Events: syscall.EPOLLIN | epollExclusive, Fd: int32(e.lfd)}
				epollCtl(l.epfd, syscall.EPOLL_CTL_ADD, e.lfd, &ev)
			}
		})
	})
}
