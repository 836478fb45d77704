package tcp

import (
	"fmt"
	"syscall"

	"github.com/shunhui19/goes/core"
)

// For the external tests: the client engine's loops (0 while stopped), and
// whether an event loop serves a socket.
var ClientLoops = clientLoops

func OnLoop(s core.Socket) bool {
	_, ok := s.(*econn)
	return ok || clientSocket(s) != nil
}

// SetSendBuffer sets the kernel's send buffer (SO_SNDBUF) of a socket of
// either engine, so that a test sees core's writes follow its peer's
// reads closely rather than a few MiB apart.
func SetSendBuffer(s core.Socket, n int) error {
	set := func(fd int) error { return syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, n) }
	switch c := s.(type) {
	case *econn:
		return set(int(c.fd))
	case *rawSock:
		var err error
		if cerr := c.rc.Control(func(fd uintptr) { err = set(int(fd)) }); cerr != nil {
			return cerr
		}
		return err
	}
	return fmt.Errorf("%T: not a socket of this package", s)
}
