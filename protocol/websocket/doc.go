// Package websocket is the WebSocket protocol (RFC 6455) for goes, as an
// optional module built on github.com/gobwas/ws: programs that do not
// import it carry none of it.
//
// A WebSocket Goer answers the opening handshake, reassembles fragmented
// messages, answers pings, runs the close handshake and hands OnMessage
// whole messages. Send sends text unless the connection's send type says
// binary; SendText, SendBinary, Ping and CloseWith say it explicitly.
//
//	g := core.NewGoer("127.0.0.1:8080", websocket.New(), "tcp")
//	g.OnMessage = func(c core.Connection, data []byte) {
//		websocket.SendMessage(c, websocket.MessageTypeOf(c), data) // echo, same type
//	}
//	g.OnClose = func(c core.Connection) {
//		code, reason := websocket.CloseStatus(c)
//		log.Println("closed", code, reason)
//	}
//	g.RunAll()
//
// Protocol.OnWebSocketConnect sees each upgrade request (path, query,
// headers, cookies, origin) and may refuse it with Reject(status, reason)
// or pick a subprotocol; Protocol.HTTPHandler answers plain HTTP requests
// on the same port. Errors close the connection as the RFC says: 1002 for
// protocol errors and unmasked client frames, 1007 for invalid UTF-8, 1009
// for a message over the connection's MaxPackageSize. A stopping server
// sends 1001. permessage-deflate is negotiated when Protocol.Compression is
// set; wss is the "ssl" transport with Goer.TLSConfig.
//
// The client is core.AsyncConnection with this protocol: dial a ws:// or
// wss:// URL and get the same callbacks, limits and guarantees as a
// server's connection. OnConnect runs once the server accepted the
// handshake; Send sends masked frames; pings are answered, the close
// handshake runs both ways. A handshake the server refuses, answers
// wrongly or not at all within ConnectTimeout is reported to OnError with
// core.ErrCodeConnectFail, then OnClose; a redirect (3xx) is ErrRedirect,
// its Location given by RedirectOf, and is not followed (Client follows
// MaxRedirects).
//
//	c := core.NewAsyncConnection("ws://127.0.0.1:8080/chat", websocket.New())
//	c.OnConnect = func(c core.Connection) { c.Send("hello", false) }
//	c.OnMessage = func(c core.Connection, data []byte) { log.Printf("%s", data) }
//	c.AutoReconnect = &core.Backoff{}
//	c.Connect()
//
// Protocol.Header, Subprotocols, Compression and PingInterval shape a
// client's request and session as they do a server's; the connection's
// MaxPackageSize limits one incoming message, MaxHandshakeSize the
// server's response head. What is sent before the server answered (Send,
// SendText, SendBinary, Ping, SetSendType, CloseWith) waits in the
// connection's queue, MaxSendBufferSize at most, in order, and is framed
// once the handshake settled permessage-deflate. A Close or CloseWith
// before the answer waits for it, CloseTimeout at most, then sends what
// was queued and the close frame. Client is a smaller API over the same,
// kept from earlier releases.
package websocket
