//go:build unix

package tcp

import (
	"net"
	"syscall"
)

// rawSock adds a non-blocking write to a TCP or Unix connection, so that a
// Send that the kernel can take at once needs no writer goroutine.
type rawSock struct {
	net.Conn
	rc syscall.RawConn
	cw interface{ CloseWrite() error }
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
	cw, _ := c.(interface{ CloseWrite() error })
	return &rawSock{Conn: c, rc: rc, cw: cw}
}

// TryWrite implements core.TryWriter.
func (s *rawSock) TryWrite(b []byte) (int, error) {
	var n int
	var err error
	werr := s.rc.Write(func(fd uintptr) bool {
		for {
			n, err = syscall.Write(int(fd), b)
			if err != syscall.EINTR {
				return true
			}
		}
	})
	if n < 0 {
		n = 0
	}
	if err == syscall.EAGAIN {
		err = nil
	}
	if err == nil {
		err = werr
	}
	return n, err
}

// CloseWrite half-closes the connection.
func (s *rawSock) CloseWrite() error {
	if s.cw == nil {
		return s.Conn.Close()
	}
	return s.cw.CloseWrite()
}
