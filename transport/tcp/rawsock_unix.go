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

	// The write in progress. core calls TryWrite under the connection's
	// send lock, one at a time, so these need no lock of their own; they
	// live here so that a write allocates nothing.
	wb    []byte
	wn    int
	werr  error
	write func(fd uintptr) bool
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
	s := &rawSock{Conn: c, rc: rc, cw: cw}
	s.write = s.doWrite
	return s
}

func (s *rawSock) doWrite(fd uintptr) bool {
	for {
		s.wn, s.werr = syscall.Write(int(fd), s.wb)
		if s.werr != syscall.EINTR {
			return true // never wait: what does not fit now is queued
		}
	}
}

// TryWrite implements core.TryWriter.
func (s *rawSock) TryWrite(b []byte) (int, error) {
	s.wb = b
	err := s.rc.Write(s.write)
	n, werr := s.wn, s.werr
	s.wb, s.werr = nil, nil
	if n < 0 {
		n = 0
	}
	if werr == syscall.EAGAIN {
		werr = nil
	}
	if werr == nil {
		werr = err
	}
	return n, werr
}

// CloseWrite half-closes the connection.
func (s *rawSock) CloseWrite() error {
	if s.cw == nil {
		return s.Conn.Close()
	}
	return s.cw.CloseWrite()
}

// Abort implements core.Aborter: a TCP connection's close sends a reset
// (SO_LINGER 0). A Unix socket has no reset: it is closed.
func (s *rawSock) Abort() error {
	if _, ok := s.Conn.(*net.TCPConn); ok {
		s.rc.Control(func(fd uintptr) { setLingerZero(int(fd)) })
	}
	return s.Conn.Close()
}

// setLingerZero makes closing fd reset the connection (RST) instead of
// sending what is left and a FIN.
func setLingerZero(fd int) {
	syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
}
