// Package udp is the datagram transport of goes: udp, udp4, udp6 and
// unixgram. Every datagram is one message; the Goer's protocol, if any,
// frames packages within it. Send answers the sender. Datagrams of one peer
// are handled in order; a handler that blocks holds up only its own peer.
// Bad or oversized datagrams are dropped, counted and reported to OnError.
//
//	import _ "github.com/shunhui19/goes/transport/udp"
//
//	g := core.NewGoer("127.0.0.1:9090", nil, "udp")
//	g.OnMessage = func(c core.Connection, data []byte) { c.SendBytes(data, false) }
//	g.RunAll()
//
// It also makes the sockets of datagram clients (core.AsyncUdpConnection,
// workerman's AsyncUdpConnection): a socket connected to one peer, each
// Send one datagram, each datagram received framed the same way.
//
//	c := core.NewAsyncUdpConnection("udp://127.0.0.1:9090", nil)
//	c.OnMessage = func(c core.Connection, data []byte) { fmt.Printf("%s\n", data) }
//	c.Connect()
//	c.Send("ping", false)
package udp
