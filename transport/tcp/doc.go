// Package tcp is the stream transport of goes: tcp, tcp4, tcp6, unix and
// ssl (TLS, also spelled tls), served by the goroutine engine: one goroutine
// reads each connection and delivers its messages in order; writes go out at
// once when the kernel takes them and otherwise on a short-lived writer
// goroutine, so Send never waits for a slow peer. An idle connection holds
// one goroutine and its read buffer.
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
