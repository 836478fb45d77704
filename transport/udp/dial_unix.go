//go:build unix

package udp

import (
	"net"
	"syscall"
)

// packetSock adds a non-blocking send to a connected datagram socket, so
// that a datagram the kernel takes at once needs no writer goroutine, and
// a wait for a datagram that holds no buffer.
type packetSock struct {
	net.Conn
	rc syscall.RawConn
}

func wrap(c net.Conn) net.Conn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return c
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return c
	}
	return &packetSock{Conn: c, rc: rc}
}

// TryWrite implements core.TryWriter: it sends b as one datagram if the
// kernel takes it now, and reports (0, nil) when its buffer is full.
func (s *packetSock) TryWrite(b []byte) (int, error) {
	var serr error
	err := s.rc.Write(func(fd uintptr) bool {
		for {
			serr = syscall.Sendto(int(fd), b, 0, nil)
			if serr != syscall.EINTR {
				return true // never wait: what the kernel does not take now is queued
			}
		}
	})
	switch {
	case err != nil:
		return 0, err
	case serr == syscall.EAGAIN:
		return 0, nil
	case serr != nil:
		return 0, &net.OpError{Op: "write", Net: s.LocalAddr().Network(), Source: s.LocalAddr(), Addr: s.RemoteAddr(), Err: serr}
	}
	return len(b), nil
}

// WaitReadable implements core.ReadWaiter: it waits for a datagram (or an
// error the kernel holds for the socket) without reading it, so that an
// idle client holds no read buffer.
func (s *packetSock) WaitReadable() error {
	var rerr error
	err := s.rc.Read(func(fd uintptr) bool {
		var b [1]byte
		for {
			_, _, rerr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
			if rerr != syscall.EINTR {
				return rerr != syscall.EAGAIN
			}
		}
	})
	if err != nil {
		return err
	}
	if rerr != nil {
		return &net.OpError{Op: "read", Net: s.LocalAddr().Network(), Source: s.LocalAddr(), Addr: s.RemoteAddr(), Err: rerr}
	}
	return nil
}
