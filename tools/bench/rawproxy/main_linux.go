// Command rawproxy is a reference route of tools/bench's proxy shapes: a
// minimal user-space TCP proxy, written straight on Linux system calls. One
// epoll loop per CPU (each with its own SO_REUSEPORT listener, so the
// kernel spreads the connections), non-blocking sockets, edge-triggered
// events; bytes go from one socket to the other with read(2) and write(2)
// through the loop's one buffer, and a connection keeps bytes of its own
// only when a write is short (until its socket takes them). No framework,
// no protocol, no timers: whatever a proxy built on goes does beyond this
// is its cost.
//
//	rawproxy -addr 127.0.0.1:8000 -backend 127.0.0.1:9000
//
// It prints "ready" once it listens and runs until killed.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	addr := flag.String("addr", "", "listen address, host:port (each loop listens there with SO_REUSEPORT)")
	backend := flag.String("backend", "", "address every connection is proxied to")
	loops := flag.Int("loops", runtime.NumCPU(), "epoll loops (threads)")
	flag.Parse()
	if *addr == "" || *backend == "" {
		fmt.Fprintln(os.Stderr, "usage: rawproxy -addr host:port -backend host:port [-loops n]")
		os.Exit(2)
	}
	if err := run(*addr, *backend, *loops); err != nil {
		fmt.Fprintln(os.Stderr, "rawproxy:", err)
		os.Exit(1)
	}
}

func run(addr, backend string, loops int) error {
	la, err := sockaddr(addr)
	if err != nil {
		return err
	}
	var ls []*loop
	for range max(loops, 1) {
		// A loop of its own: Connect writes into the address's buffer.
		ba, err := sockaddr(backend)
		if err != nil {
			return fmt.Errorf("backend: %w", err)
		}
		l, err := newLoop(la, ba)
		if err != nil {
			return err
		}
		ls = append(ls, l)
	}
	fmt.Println("ready")
	done := make(chan error)
	for _, l := range ls {
		go func() { done <- l.run() }()
	}
	return <-done
}

// sockaddr resolves a host:port to a socket address.
func sockaddr(s string) (syscall.Sockaddr, error) {
	a, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		return nil, err
	}
	if ip4 := a.IP.To4(); ip4 != nil {
		sa := &syscall.SockaddrInet4{Port: a.Port}
		copy(sa.Addr[:], ip4)
		return sa, nil
	}
	sa := &syscall.SockaddrInet6{Port: a.Port}
	copy(sa.Addr[:], a.IP.To16())
	return sa, nil
}

func family(sa syscall.Sockaddr) int {
	if _, ok := sa.(*syscall.SockaddrInet4); ok {
		return syscall.AF_INET
	}
	return syscall.AF_INET6
}

// side is one socket of a proxied pair; peer is the other.
type side struct {
	fd   int
	peer *side
	// out holds what a write to this socket left over; the peer reads no
	// more until it is written.
	out []byte
	// eof: the peer's reads ended, this socket's write side shuts once out
	// is written. shut: it has.
	eof, shut bool
	// done: no more reads from this socket (its peer's write side is shut
	// or will be).
	done bool
}

type loop struct {
	ep, lfd int
	backend syscall.Sockaddr
	buf     []byte
	sides   map[int]*side
}

func newLoop(listen, backend syscall.Sockaddr) (*loop, error) {
	lfd, err := syscall.Socket(family(listen), syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	syscall.SetsockoptInt(lfd, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	syscall.SetsockoptInt(lfd, syscall.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	if err := syscall.Bind(lfd, listen); err != nil {
		syscall.Close(lfd)
		return nil, err
	}
	if err := syscall.Listen(lfd, 4096); err != nil {
		syscall.Close(lfd)
		return nil, err
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		syscall.Close(lfd)
		return nil, err
	}
	l := &loop{ep: ep, lfd: lfd, backend: backend, buf: make([]byte, 64<<10), sides: map[int]*side{}}
	if err := l.watch(lfd, syscall.EPOLLIN); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *loop) watch(fd int, events uint32) error {
	const edge = 1 << 31 // EPOLLET, negative in package syscall
	ev := syscall.EpollEvent{Events: events | edge, Fd: int32(fd)}
	return syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, fd, &ev)
}

// run serves the loop's connections on a thread of its own.
func (l *loop) run() error {
	runtime.LockOSThread()
	evs := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(l.ep, evs, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		for _, ev := range evs[:n] {
			fd := int(ev.Fd)
			if fd == l.lfd {
				l.accept()
				continue
			}
			s := l.sides[fd]
			if s == nil {
				continue // closed by an earlier event of this batch
			}
			if ev.Events&(syscall.EPOLLOUT|syscall.EPOLLERR|syscall.EPOLLHUP) != 0 && len(s.out) > 0 {
				if !l.flush(s) {
					continue
				}
			}
			if ev.Events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLERR|syscall.EPOLLHUP) != 0 {
				l.pump(s)
			}
		}
	}
}

// accept takes every waiting connection and dials the backend for each.
func (l *loop) accept() {
	for {
		fd, _, err := syscall.Accept4(l.lfd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		if err != nil {
			return // EAGAIN, or out of descriptors: the next edge retries
		}
		bfd, err := syscall.Socket(family(l.backend), syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
		if err != nil {
			syscall.Close(fd)
			continue
		}
		if err := syscall.Connect(bfd, l.backend); err != nil && err != syscall.EINPROGRESS {
			syscall.Close(fd)
			syscall.Close(bfd)
			continue
		}
		for _, x := range []int{fd, bfd} {
			syscall.SetsockoptInt(x, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		}
		front, back := &side{fd: fd}, &side{fd: bfd}
		front.peer, back.peer = back, front
		l.sides[fd], l.sides[bfd] = front, back
		// Until the backend's connect completes, writes to it fail with
		// EAGAIN and what the client sends waits in back.out; the connect's
		// EPOLLOUT writes it.
		const events = syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP
		if l.watch(fd, events) != nil || l.watch(bfd, events) != nil {
			l.closePair(front)
			continue
		}
		l.pump(front) // bytes that came with the connection
	}
}

// pump moves what src has to read into its peer's socket until src has no
// more, the peer's socket is full (the rest waits in its out) or src ends.
func (l *loop) pump(src *side) {
	dst := src.peer
	for !src.done && len(dst.out) == 0 {
		n, err := syscall.Read(src.fd, l.buf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return
		case err != nil:
			l.closePair(src)
			return
		case n == 0:
			// src's peer sent FIN: pass it on once dst's queue is written.
			src.done = true
			dst.eof = true
			l.shutWhenWritten(dst)
			return
		}
		b := l.buf[:n]
		for len(b) > 0 {
			w, err := syscall.Write(dst.fd, b)
			if err == syscall.EINTR {
				continue
			}
			if err == syscall.EAGAIN {
				break
			}
			if err != nil {
				l.closePair(src)
				return
			}
			b = b[w:]
		}
		if len(b) > 0 {
			dst.out = append(dst.out[:0], b...)
			return
		}
	}
}

// flush writes s.out; it reports whether s is still open. Once out is
// written, s's peer reads on.
func (l *loop) flush(s *side) bool {
	for len(s.out) > 0 {
		w, err := syscall.Write(s.fd, s.out)
		if err == syscall.EINTR {
			continue
		}
		if err == syscall.EAGAIN {
			return true
		}
		if err != nil {
			l.closePair(s)
			return false
		}
		s.out = s.out[w:]
	}
	s.out = nil
	if !l.shutWhenWritten(s) {
		return false
	}
	l.pump(s.peer)
	return l.sides[s.fd] == s
}

// shutWhenWritten shuts s's write side once its peer ended and s.out is
// written; when both directions have ended the pair closes. It reports
// whether s is still open.
func (l *loop) shutWhenWritten(s *side) bool {
	if !s.eof || s.shut || len(s.out) > 0 {
		return true
	}
	s.shut = true
	syscall.Shutdown(s.fd, syscall.SHUT_WR)
	if s.peer.shut {
		l.closePair(s)
		return false
	}
	return true
}

// closePair closes both sockets (which leaves epoll with them).
func (l *loop) closePair(s *side) {
	for _, x := range []*side{s, s.peer} {
		if l.sides[x.fd] == x {
			delete(l.sides, x.fd)
			syscall.Close(x.fd)
		}
	}
}
