package websocket_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/websocket"
)

// rawServer runs handle on every connection to a loopback port, after
// reading the client's upgrade request; the test's cleanup closes the
// listener and waits for the handlers, which end when their client does
// (or after 20 s).
func rawServer(t *testing.T, handle func(c net.Conn, br *bufio.Reader, req *http.Request)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				handle(c, br, req)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// accept101 is the answer that accepts req, with extra header lines.
func accept101(req *http.Request, extra string) string {
	return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		websocket.AcceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n" + extra + "\r\n"
}

// serverFrame is an unmasked frame from a server.
func serverFrame(op byte, payload []byte) []byte { return frame(true, op, payload, false) }

// readClientFrame reads one frame from the client, which must be masked,
// and returns its opcode and unmasked payload.
func readClientFrame(t *testing.T, br *bufio.Reader) (byte, []byte) {
	op, _, p := readClientFrameRSV(t, br)
	return op, p
}

// readUntilClose reads the client's frames up to its close frame (or a
// failed read), each as "opcode quoted-payload".
func readUntilClose(t *testing.T, br *bufio.Reader) []string {
	var frames []string
	for {
		op, p := readClientFrame(t, br)
		frames = append(frames, fmt.Sprintf("%d %q", op, p))
		if op == 8 || op == 0 {
			return frames
		}
	}
}

// readClientFrameRSV is readClientFrame, and tells whether RSV1 (a
// compressed message) is set.
func readClientFrameRSV(t *testing.T, br *bufio.Reader) (op byte, rsv1 bool, payload []byte) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		t.Errorf("reading the client's frame: %v", err)
		return 0, false, nil
	}
	rsv1 = h[0]&0x40 != 0
	if h[1]&0x80 == 0 {
		t.Errorf("client frame not masked")
		return 0, false, nil
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		io.ReadFull(br, l[:])
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		io.ReadFull(br, l[:])
		n = binary.BigEndian.Uint64(l[:])
	}
	var key [4]byte
	io.ReadFull(br, key[:])
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		t.Errorf("reading the client's frame: %v", err)
	}
	for i := range p {
		p[i] ^= key[i%4]
	}
	return h[0] & 0x0f, rsv1, p
}

// quiet fails if an event arrives within a moment.
func quiet(t *testing.T, ev chan event) {
	t.Helper()
	select {
	case e := <-ev:
		t.Fatalf("unexpected event %s %d %q", e.kind, e.code, e.data)
	case <-time.After(50 * time.Millisecond):
	}
}

// expectConnectFail waits for OnError with ErrCodeConnectFail and a
// message containing want, then OnClose, and nothing else.
func expectConnectFail(t *testing.T, ev chan event, want string) {
	t.Helper()
	e := recv(t, ev, "OnError")
	if e.kind != "error" || e.code != core.ErrCodeConnectFail || !strings.Contains(e.data, want) {
		t.Fatalf("got %s %d %q, want OnError %d containing %q", e.kind, e.code, e.data, core.ErrCodeConnectFail, want)
	}
	if e := recv(t, ev, "OnClose"); e.kind != "close" {
		t.Fatalf("got %s %d %q, want OnClose", e.kind, e.code, e.data)
	}
	quiet(t, ev)
}

// The server's answer to the upgrade is untrusted: each way it can be
// wrong fails the connect with OnError (ErrCodeConnectFail, saying why)
// and then OnClose, without OnConnect.
func TestAsyncClientBadHandshake(t *testing.T) {
	head := func(req *http.Request, lines string) string {
		return "HTTP/1.1 101 Switching Protocols\r\n" + lines + "\r\n"
	}
	key := func(req *http.Request) string {
		return "Sec-WebSocket-Accept: " + websocket.AcceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n"
	}
	for _, tc := range []struct {
		name     string
		compress bool
		subp     []string
		answer   func(req *http.Request) string
		want     string
		hangup   bool // the server closes after its answer
	}{
		{name: "status 403", want: "403 Forbidden", answer: func(*http.Request) string {
			return "HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nforbidden"
		}},
		{name: "status 200", want: "status 200 OK", answer: func(*http.Request) string {
			return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
		}},
		{name: "redirect", want: "302 handshake response: redirected, Location ws://127.0.0.1:1/x: " + websocket.ErrRedirect.Error(), answer: func(*http.Request) string {
			return "HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:1/x\r\n\r\n"
		}},
		{name: "redirect without Location", want: "without a Location", answer: func(*http.Request) string {
			return "HTTP/1.1 307 Temporary Redirect\r\n\r\n"
		}},
		{name: "no accept", want: "Sec-WebSocket-Accept", answer: func(req *http.Request) string {
			return head(req, "Upgrade: websocket\r\nConnection: Upgrade\r\n")
		}},
		{name: "wrong accept", want: "does not answer the key", answer: func(req *http.Request) string {
			return head(req, "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+websocket.AcceptKey("dGhlIHNhbXBsZSBub25jZQ==")+"\r\n")
		}},
		{name: "two accepts", want: "Sec-WebSocket-Accept", answer: func(req *http.Request) string {
			return head(req, "Upgrade: websocket\r\nConnection: Upgrade\r\n"+key(req)+key(req))
		}},
		{name: "no upgrade", want: "Upgrade: websocket", answer: func(req *http.Request) string {
			return head(req, "Connection: Upgrade\r\n"+key(req))
		}},
		{name: "no connection", want: "Connection: Upgrade", answer: func(req *http.Request) string {
			return head(req, "Upgrade: websocket\r\n"+key(req))
		}},
		{name: "oversized head", want: "over 8192 bytes", answer: func(req *http.Request) string {
			return accept101(req, "X-Big: "+strings.Repeat("a", 9000)+"\r\n")
		}},
		{name: "endless head", want: "over 8192 bytes", answer: func(req *http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\n" + strings.Repeat("X-Line: y\r\n", 1000)
		}},
		{name: "deflate not offered", want: "not offered", answer: func(req *http.Request) string {
			return accept101(req, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n")
		}},
		{name: "unknown extension", compress: true, want: `extension "x-webkit-deflate-frame" was not offered`, answer: func(req *http.Request) string {
			return accept101(req, "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n")
		}},
		{name: "deflate with context takeover", compress: true, want: "not offered", answer: func(req *http.Request) string {
			return accept101(req, "Sec-WebSocket-Extensions: permessage-deflate\r\n")
		}},
		{name: "deflate twice", compress: true, want: "twice", answer: func(req *http.Request) string {
			return accept101(req, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover, permessage-deflate; server_no_context_takeover\r\n")
		}},
		{name: "subprotocol not offered", subp: []string{"a"}, want: `subprotocol "b" was not offered`, answer: func(req *http.Request) string {
			return accept101(req, "Sec-WebSocket-Protocol: b\r\n")
		}},
		{name: "subprotocol unasked", want: "not offered", answer: func(req *http.Request) string {
			return accept101(req, "Sec-WebSocket-Protocol: a\r\n")
		}},
		{name: "malformed", want: "malformed response", answer: func(*http.Request) string {
			return "SSH-2.0-OpenSSH_9.6\r\n\r\n"
		}},
		{name: "closed during handshake", want: "during the handshake", hangup: true, answer: func(*http.Request) string {
			return ""
		}},
		{name: "closed mid-head", want: "during the handshake", hangup: true, answer: func(*http.Request) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: webso"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawServer(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
				c.Write([]byte(tc.answer(req)))
				if !tc.hangup {
					io.Copy(io.Discard, br) // until the client leaves
				}
			})
			p := websocket.New()
			p.Compression = tc.compress
			p.Subprotocols = tc.subp
			c, ev := dialer("ws://"+addr+"/", p)
			c.Connect()
			defer c.Destroy()
			expectConnectFail(t, ev, tc.want)
			if websocket.IsOpen(c) {
				t.Fatal("open after a failed handshake")
			}
		})
	}
}

// A server that never answers the upgrade, or trickles a head that never
// ends, fails the connect once ConnectTimeout has passed.
func TestAsyncClientHandshakeTimeout(t *testing.T) {
	for _, tc := range []struct {
		name  string
		serve func(c net.Conn, br *bufio.Reader)
	}{
		{"silent", func(c net.Conn, br *bufio.Reader) { io.Copy(io.Discard, br) }},
		{"trickle", func(c net.Conn, br *bufio.Reader) {
			c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\n"))
			for i := 0; i < 500; i++ {
				if _, err := c.Write([]byte("X: y\r\n")); err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawServer(t, func(c net.Conn, br *bufio.Reader, req *http.Request) { tc.serve(c, br) })
			c, ev := dialer("ws://"+addr+"/", websocket.New())
			c.ConnectTimeout = 300 * time.Millisecond
			start := time.Now()
			c.Connect()
			defer c.Destroy()
			expectConnectFail(t, ev, "no answer to the handshake")
			if d := time.Since(start); d < 250*time.Millisecond || d > 5*time.Second {
				t.Fatalf("failed after %v, ConnectTimeout 300ms", d)
			}
		})
	}
}

// A valid answer that arrives a byte at a time, with a frame right behind
// it, opens the connection and delivers the frame.
func TestAsyncClientTrickledHandshake(t *testing.T) {
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
		b := append([]byte(accept101(req, "")), serverFrame(0x1, []byte("right behind"))...)
		for i := range b {
			if _, err := c.Write(b[i : i+1]); err != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
		io.Copy(io.Discard, br)
	})
	c, ev := dialer("ws://"+addr+"/", websocket.New())
	c.Connect()
	defer c.Destroy()
	if e := recv(t, ev, "OnConnect"); e.kind != "connect" {
		t.Fatalf("got %s %d %q", e.kind, e.code, e.data)
	}
	if e := recv(t, ev, "OnMessage"); e.kind != "message" || e.data != "right behind" {
		t.Fatalf("got %s %q", e.kind, e.data)
	}
}

// The client masks every frame it sends, and fails a server's masked
// frame with 1002.
func TestAsyncClientMasking(t *testing.T) {
	closeFrame := make(chan []byte, 1)
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
		c.Write([]byte(accept101(req, "")))
		if op, p := readClientFrame(t, br); op != 0x1 || string(p) != "hi" {
			t.Errorf("first frame: opcode %d %q", op, p)
		}
		c.Write(frame(true, 0x1, []byte("masked"), true))
		op, p := readClientFrame(t, br)
		if op == 0x8 {
			closeFrame <- p
		}
		io.Copy(io.Discard, br)
	})
	c, ev := dialer("ws://"+addr+"/", websocket.New())
	c.Connect()
	defer c.Destroy()
	next(t, ev, "connect")
	c.Send("hi", false)
	if e := next(t, ev, "error"); e.code != core.ErrCodeProtocol || !strings.Contains(e.data, "masked frame from the server") {
		t.Fatalf("error %d %q", e.code, e.data)
	}
	if e := next(t, ev, "close"); e.code != websocket.CloseProtocolError {
		t.Fatalf("close code %d", e.code)
	}
	p := recv(t, closeFrame, "the client's close frame")
	if len(p) < 2 || binary.BigEndian.Uint16(p) != websocket.CloseProtocolError {
		t.Fatalf("close frame %q", p)
	}
}

// A server that accepts and then never reads: the client's queue stops at
// MaxSendBufferSize (OnBufferFull once, then refusals); so does what is
// sent before it answered the handshake (SendBinary as Send), which waits
// in the same queue.
func TestAsyncClientPeerNeverReads(t *testing.T) {
	t.Run("open", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		addr := rawServer(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
			c.(*net.TCPConn).SetReadBuffer(16 << 10)
			c.Write([]byte(accept101(req, "")))
			<-release
		})
		c, ev := dialer("ws://"+addr+"/", websocket.New())
		const max, size = 256 << 10, 16 << 10
		c.MaxSendBufferSize = max
		c.Connect()
		defer c.Destroy()
		next(t, ev, "connect")
		msg := bytes.Repeat([]byte{7}, size)
		var refused error
		deadline := time.Now().Add(10 * time.Second)
		for i := 0; i < 100000 && time.Now().Before(deadline); i++ {
			if err := websocket.SendBinary(c, msg); err != nil {
				refused = err
				break
			}
			if q := c.SendQueueSize(); q > max+size+14 {
				t.Fatalf("queue at %d bytes, limit %d", q, max)
			}
		}
		if !errors.Is(refused, core.ErrSendBufferFull) {
			t.Fatalf("sends never refused (%v); queue %d", refused, c.SendQueueSize())
		}
		next(t, ev, "full")
		for i := 0; i < 100; i++ {
			if err := websocket.SendBinary(c, msg); !errors.Is(err, core.ErrSendBufferFull) {
				t.Fatalf("send %d: %v", i, err)
			}
		}
		if q := c.SendQueueSize(); q > max+size+14 {
			t.Fatalf("queue at %d bytes, limit %d", q, max)
		}
		c.Destroy()
		next(t, ev, "close")
	})
	t.Run("handshake unanswered", func(t *testing.T) {
		connected := make(chan struct{}, 2)
		addr := rawServer(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
			connected <- struct{}{}
			io.Copy(io.Discard, br)
		})
		for _, when := range []string{"before the TCP connect", "during the handshake"} {
			t.Run(when, func(t *testing.T) {
				c, ev := dialer("ws://"+addr+"/", websocket.New())
				const max, size = 100 << 10, 10 << 10
				c.MaxSendBufferSize = max
				c.Connect()
				defer c.Destroy()
				if when == "during the handshake" {
					recv(t, connected, "the request")
					waitFor(t, "the connection's state", func() bool { return c.Context() != nil })
				}
				msg := bytes.Repeat([]byte{7}, size)
				accepted := 0
				var err error
				for i := 0; i < 1000; i++ {
					send := websocket.SendBinary
					if i%2 == 1 {
						send = func(c core.Connection, b []byte) error { return c.SendBytes(b, false) }
					}
					if err = send(c, msg); err != nil {
						break
					}
					accepted += len(msg)
				}
				if !errors.Is(err, core.ErrSendBufferFull) || accepted > max+size || accepted < max {
					t.Fatalf("%d bytes accepted before the handshake, then %v", accepted, err)
				}
				if q := c.SendQueueSize(); q != accepted {
					t.Fatalf("SendQueueSize %d, %d accepted", q, accepted)
				}
				next(t, ev, "full")
				if e := next(t, ev, "error"); e.code != core.ErrCodeSendFail {
					t.Fatalf("error %d %q", e.code, e.data)
				}
				quiet(t, ev)
			})
		}
	})
}

// PingInterval: a server that reads but never answers pings is dropped
// (1006, "ping timeout"); the module's server, which answers, is not.
func TestAsyncClientHeartbeat(t *testing.T) {
	t.Run("no pongs", func(t *testing.T) {
		addr := rawServer(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
			c.Write([]byte(accept101(req, "")))
			io.Copy(io.Discard, br)
		})
		p := websocket.New()
		p.PingInterval = 100 * time.Millisecond
		c, ev := dialer("ws://"+addr+"/", p)
		start := time.Now()
		c.Connect()
		defer c.Destroy()
		next(t, ev, "connect")
		e := next(t, ev, "close")
		if e.code != websocket.CloseAbnormal || e.data != "ping timeout" {
			t.Fatalf("closed with %d %q", e.code, e.data)
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Fatalf("dropped after %v", d)
		}
	})
	t.Run("pongs", func(t *testing.T) {
		var seen kinds
		sp := websocket.New()
		sp.Observer = &seen
		addr := serve(t, sp, nil)
		p := websocket.New()
		p.PingInterval = 50 * time.Millisecond
		c, ev := dialer("ws://"+addr+"/", p)
		c.Connect()
		defer c.Destroy()
		next(t, ev, "connect")
		waitFor(t, "four pings", func() bool { return seen.get("in ping") >= 4 })
		if !websocket.IsOpen(c) {
			t.Fatal("closed although the server answers")
		}
		quiet(t, ev)
	})
}

// Backpressure on the client: a server that floods it and never reads the
// echoes. The client stops reading once its queue passes the high-water
// mark, so that no echo is refused and its memory stays bounded; TCP holds
// the rest of the flood back in the server.
func TestAsyncClientBackpressure(t *testing.T) {
	const count, size = 500, 64 << 10 // 32 MiB, more than the kernel's buffers take
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
		c.(*net.TCPConn).SetReadBuffer(16 << 10)
		c.Write([]byte(accept101(req, "")))
		msg := serverFrame(0x2, bytes.Repeat([]byte{1}, size))
		for i := 0; i < count; i++ {
			if _, err := c.Write(msg); err != nil {
				return // the client left
			}
		}
	})
	c, ev := dialer("ws://"+addr+"/", websocket.New())
	const max = 1 << 20
	c.MaxSendBufferSize = max
	var received, refused atomic.Int64
	c.OnMessage = func(c core.Connection, data []byte) {
		received.Add(1)
		if err := websocket.SendBinary(c, data); err != nil {
			refused.Add(1)
		}
	}
	c.Connect()
	defer c.Destroy()
	next(t, ev, "connect")
	waitFor(t, "the client to pause", func() bool { tc := c.Conn(); return tc != nil && tc.IsPaused() })
	time.Sleep(100 * time.Millisecond) // a client that did not pause would read on
	if n := received.Load(); n == 0 || n >= count {
		t.Fatalf("%d of %d messages read", n, count)
	}
	if n := refused.Load(); n != 0 {
		t.Fatalf("%d echoes refused", n)
	}
	if q := c.SendQueueSize(); q > max+size+14 {
		t.Fatalf("queue at %d bytes, limit %d", q, max)
	}
	// Both engines stop reading a paused connection at once, so what core
	// holds unread is what is left of the read whose message paused it
	// (that message's echo filled the queue). A read takes 64 KiB at most
	// on either engine and may begin with a partial message kept from the
	// read before; the message that paused came out of it whole (size and
	// a 10-byte header), so less than one read is left: under 64 KiB, and
	// a message more (about 2*size) if the pause came from elsewhere.
	if r := c.Conn().RecvQueueSize(); r >= 64<<10 {
		t.Fatalf("%d bytes buffered unread", r)
	}
}
