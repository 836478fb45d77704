package core

import "net"

// Socket is what a stream transport hands core for one connection.
// net.Conn satisfies it. Write may block; core calls it from one goroutine
// at a time.
type Socket interface {
	Write(b []byte) (int, error)
	Close() error
	LocalAddr() net.Addr
	RemoteAddr() net.Addr
}

// TryWriter is implemented by sockets that can write without blocking:
// TryWrite writes what the kernel takes now and returns at once (n may be 0).
type TryWriter interface {
	TryWrite(b []byte) (int, error)
}

// WriteNotifier is implemented by sockets whose engine can tell when the
// kernel takes writes again (epoll's EPOLLOUT). When a write is left
// unfinished, core asks NotifyWritable and the engine calls
// Stream.Writable once the socket is writable, so no goroutine waits per
// connection that a slow peer holds back. NotifyWritable returns false
// when it cannot notify (the socket is closed or hung up); core then
// writes from a goroutine of its own.
type WriteNotifier interface {
	TryWriter
	NotifyWritable() bool
}

// ResumeNotifier is implemented by sockets whose engine waits for a paused
// connection without a goroutine of its own (epoll). Once
// Stream.NotifyResume reported true, core calls Resumed exactly once, when
// the connection is no longer paused: resumed, or closing. Resumed runs on
// whichever goroutine lifted the pause (a callback of this or another
// connection, a timer, a writer) with the connection's lock held: it must
// hand the connection's delivery on (to a worker goroutine, say) and not
// call into the connection itself.
type ResumeNotifier interface {
	Resumed()
}

// Aborter is implemented by sockets that can end the connection with a
// reset (TCP's RST, SO_LINGER 0) rather than the FIN of Close. core aborts
// a socket whose queued data it drops (a Close that outlasted
// CloseTimeout, Destroy), so that the peer does not take the cut stream
// for a whole one. A socket with a NetConn method (a *tls.Conn) is aborted
// through the connection it wraps, skipping the TLS close_notify.
type Aborter interface {
	Abort() error
}

// abortSocket resets s if it can; false: it cannot, close it instead.
func abortSocket(s Socket) bool {
	if a, ok := s.(Aborter); ok {
		a.Abort()
		return true
	}
	if w, ok := s.(interface{ NetConn() net.Conn }); ok {
		if a, ok := w.NetConn().(Aborter); ok {
			a.Abort()
			return true
		}
	}
	return false
}

// closeWriter is implemented by sockets that can half-close (TCP, Unix, TLS).
type closeWriter interface {
	CloseWrite() error
}
