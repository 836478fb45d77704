// Package tcp is the stream transport of goes: tcp, tcp4, tcp6, unix and
// ssl (TLS, also spelled tls), served by one of two engines (Goer.Engine):
//
//   - epoll (Linux, the default there): a few event loops own every socket
//     and run the handlers on the bytes they just read; a watchdog moves a
//     loop whose handler blocks to a new goroutine, so a blocking handler
//     does not stall the loop's other connections. An idle connection holds
//     no goroutine and no buffer. See epoll_engine_linux.go for how
//     messages reach the handlers and why. Client connections
//     (core.AsyncConnection over tcp:// and unix://) are connected by the
//     loops (a non-blocking connect, EPOLLOUT) and served by them like
//     accepted ones; see epoll_dial_linux.go.
//   - goroutine (every platform, the default elsewhere, and TLS on any
//     Goer or client): one goroutine reads each connection and delivers its
//     messages in order. An idle connection holds one goroutine and its
//     read buffer.
//
// A client connection uses the engine of its AsyncConnection's Server,
// else the one GOES_ENGINE names, else DefaultEngine.
//
// On both, writes go out at once when the kernel takes them and otherwise
// wait in the connection's queue for the socket to drain, so Send never
// waits for a slow peer.
//
// Importing the package registers the transports:
//
//	import _ "github.com/shunhui19/goes/transport/tcp"
//
//	g := core.NewGoer("127.0.0.1:8080", nil, "tcp")
//	g.OnMessage = func(c core.Connection, data []byte) { c.Send("hello, goer", false) }
//	g.RunAll()
//
// TLS: set Goer.TLSConfig, or Goer.CertFile and Goer.KeyFile, and use the
// transport "ssl". The handshake runs on the connection's goroutine, bounded
// by HandshakeTimeout.
package tcp
