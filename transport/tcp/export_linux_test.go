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

// EngineHeld is what the epoll engine holds read for the connection on s
// and not yet handed to core (0 for a socket of the goroutine engine).
func EngineHeld(s core.Socket) int {
	c := clientSocket(s)
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending == nil {
		return 0
	}
	return len(c.pending.b)
}

// EngineState describes the epoll engine's state of the connection on s,
// for a test's failure message.
func EngineState(s core.Socket) string {
	c := clientSocket(s)
	if c == nil {
		return "not on a loop"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evMu.Lock()
	defer c.evMu.Unlock()
	return fmt.Sprintf("running %v resume %v stalled %v reading %v parked %v peerDone %v pending %v eof %v wantOut %v notifyOut %v", c.running, c.resume, c.stalled, c.reading, c.parked, c.peerDone, c.pending != nil, c.eof, c.wantOut, c.notifyOut)
}

// Spliced counts the reads that took a Pipe's fast path (splice(2)).
func Spliced() int64 { return spliced.Load() }

// Unread is what the kernel holds unread on a socket of either engine.
func Unread(s core.Socket) int {
	switch c := s.(type) {
	case *econn:
		c.fdMu.RLock()
		defer c.fdMu.RUnlock()
		if c.closed {
			return 0
		}
		return unread(int(c.fd))
	case *rawSock:
		n := 0
		c.rc.Control(func(fd uintptr) { n = unread(int(fd)) })
		return n
	}
	return 0
}
