// Package http is an HTTP/1.1 server protocol for goes.
//
// It plugs into a Goer like any protocol. The manual's example works as is:
// a plain Send answers 200 with a text/html body.
//
//	g := core.NewGoer("127.0.0.1:8080", http.NewHttpProtocol(), "tcp")
//	g.OnMessage = func(c core.Connection, data []byte) {
//		c.Send("hello, goer", false)
//	}
//	g.RunAll()
//
// OnMessage gets the request body as data; RequestOf(c) gives the parsed
// request (method, path, query, headers, cookies, forms, uploaded files)
// and ResponseOf(c) a builder for the answer (status, headers, cookies,
// files, chunked streams, Server-Sent Events):
//
//	g.OnMessage = func(c core.Connection, body []byte) {
//		req := http.RequestOf(c)
//		w := req.Response()
//		switch req.Path() {
//		case "/hello":
//			w.Status(200).ContentType("text/plain").SendString("hi " + req.Query("name"))
//		case "/report.pdf":
//			w.SendFile("/srv/report.pdf") // streamed, with ETag, 304 and ranges
//		default:
//			w.Status(404).SendString("not found")
//		}
//	}
//
// Every request gets exactly one response. Keep-alive follows HTTP/1.1 and
// 1.0 rules. Pipelined requests are answered in order: the next request is
// not parsed until the previous response is out, so a handler may answer
// later from another goroutine, and the Request stays valid until then.
//
// Streams never block the sender: when the connection's send queue is
// full, Stream.Write returns an error wrapping core.ErrSendBufferFull, and
// the function given to Stream.OnDrain runs once the queue has emptied. A
// goroutine of its own may use WriteWait (EventStream.SendWait) instead,
// which waits for the drain.
//
// Bad input is answered and the connection closed: a request line or head
// over the limits (414, 431), a body over MaxBodySize or the connection's
// MaxPackageSize (413), malformed syntax and request-smuggling shapes such
// as Content-Length with Transfer-Encoding (400), unknown transfer codings
// (501). A connection whose first request head is not complete within
// HeaderTimeout of the accept (a later head: of its first byte), whose body
// stalls for BodyTimeout, whose request, however steadily it trickles in,
// is not whole within RequestTimeout of its first byte, that idles for
// KeepAliveTimeout between requests, or whose responses the peer does not
// take within WriteTimeout is closed.
//
// Every request has a session, loaded on first use with Request.Session
// and saved after the response only when changed (see Session and
// Sessions): in memory by default, in files with FileStore, in Redis with
// the module github.com/shunhui19/goes/protocol/http/redisstore.
//
//	s, err := req.Session()
//	if err == nil {
//		s.Set("visits", s.GetInt("visits")+1)
//	}
//
// Static files are opt-in: ServeDir mounts a directory at a URL prefix;
// paths cannot leave it.
package http
