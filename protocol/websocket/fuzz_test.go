package websocket

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/shunhui19/goes/core"
)

// fakeConn is a core.Connection that records what is sent.
type fakeConn struct {
	ctx    any
	out    bytes.Buffer
	closed bool
	limit  int
}

func (f *fakeConn) Send(d string, raw bool) error      { f.out.WriteString(d); return nil }
func (f *fakeConn) SendBytes(d []byte, raw bool) error { f.out.Write(d); return nil }
func (f *fakeConn) Close(string)                       { f.closed = true }
func (f *fakeConn) GetRemoteAddress() string           { return "127.0.0.1:1" }
func (f *fakeConn) GetRemoteIP() string                { return "127.0.0.1" }
func (f *fakeConn) GetRemotePort() int                 { return 1 }
func (f *fakeConn) GetLocalAddress() string            { return "127.0.0.1:2" }
func (f *fakeConn) GetLocalIP() string                 { return "127.0.0.1" }
func (f *fakeConn) GetLocalPort() int                  { return 2 }
func (f *fakeConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (f *fakeConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (f *fakeConn) GetID() int                         { return 1 }
func (f *fakeConn) Context() any                       { return f.ctx }
func (f *fakeConn) SetContext(v any)                   { f.ctx = v }
func (f *fakeConn) Goer() *core.Goer                   { return nil }
func (f *fakeConn) maxMessageSize() int                { return f.limit }

const fuzzHandshake = "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"

// FuzzFrameReader feeds arbitrary bytes after a valid handshake, split at
// arbitrary points: the reader must never panic, deliver more than the
// limit, or deliver invalid UTF-8 as text.
func FuzzFrameReader(f *testing.F) {
	seeds := [][]byte{
		{0x81, 0x85, 1, 2, 3, 4, 'h' ^ 1, 'e' ^ 2, 'l' ^ 3, 'l' ^ 4, 'o' ^ 1},
		{0x01, 0x81, 0, 0, 0, 0, 'a', 0x89, 0x80, 0, 0, 0, 0, 0x80, 0x81, 0, 0, 0, 0, 'b'},
		{0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8},
		{0x82, 0xfe, 0x01, 0x00, 0, 0, 0, 0},
		{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0},
		{0xc1, 0x87, 0, 0, 0, 0, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00},
		{0x81, 0x02, 'h', 'i'},
		{0x8a, 0x80, 1, 1, 1, 1},
		{0x01, 0x81, 0, 0, 0, 0, 0xff, 0x80, 0x81, 0, 0, 0, 0, 'a'},
		{0x01, 0x82, 0, 0, 0, 0, 'a', 0xc3, 0x80, 0x81, 0, 0, 0, 0, 0xa9},
		{0x01, 0x82, 0, 0, 0, 0, 0xf0, 0x9f, 0x00, 0x82, 0, 0, 0, 0, 0x98, 0x80, 0x80, 0x80, 0, 0, 0, 0},
		{0x81, 0x8a, 0, 0, 0, 0, 0xed, 0xa0, 0x80},
	}
	for _, s := range seeds {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		p := New()
		p.Compression = true
		c := &fakeConn{limit: 4096}
		st := p.state(c)
		var fr framer
		if err := fr.feed(st, c, []byte(fuzzHandshake), 1<<20, func([]byte) { t.Fatal("message from handshake") }); err != nil {
			t.Fatalf("handshake: %v", err)
		}
		if !bytes.HasPrefix(c.out.Bytes(), []byte("HTTP/1.1 101 ")) {
			t.Fatalf("no 101: %q", c.out.Bytes())
		}
		feedFrames(t, st, c, &fr, data, split)
	})
}

// feedFrames feeds data to an open connection in pieces of 1 to 16 bytes
// (split): no message over the limit, no invalid UTF-8 as text, no text
// that cannot be valid going on, every error a close status.
func feedFrames(t *testing.T, st *conn, c *fakeConn, fr *framer, data []byte, split uint8) {
	step := int(split%16) + 1
	for len(data) > 0 && !c.closed {
		n := min(step, len(data))
		err := fr.feed(st, c, data[:n], 1<<20, func(m []byte) {
			if len(m) > c.limit {
				t.Fatalf("message of %d bytes over the limit %d", len(m), c.limit)
			}
			if MessageTypeOf(c) == TextMessage && !utf8.Valid(m) {
				t.Fatal("invalid UTF-8 delivered as text")
			}
		})
		data = data[n:]
		if err == nil && st.msgOp == ws.OpText && !st.msgComp && st.part != nil {
			if _, ok := utf8Prefix(st.part.msg); !ok {
				t.Fatalf("text so far %q cannot be valid UTF-8, and the connection goes on", st.part.msg)
			}
		}
		if err != nil {
			var pe *core.ProtocolError
			if !errors.As(err, &pe) || !validCloseCode(pe.Status) {
				t.Fatalf("error %v is not a close status", err)
			}
			return
		}
	}
}

// FuzzHandshake feeds arbitrary request heads: the server must answer each
// with a 101 or an HTTP error and never panic; after a 101 the connection
// is open, after an error it is not; a kept request head parses again.
func FuzzHandshake(f *testing.F) {
	f.Add([]byte(fuzzHandshake), uint8(0))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), uint8(1))
	f.Add([]byte("GET /x?y=1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: a, b\r\n"+
		"Content-Length: 3\r\n\r\n"), uint8(2))
	f.Add([]byte("POST / HTTP/1.0\r\n\r\n"), uint8(3))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\n\r\n"), uint8(4))
	f.Add([]byte(strings.Replace(fuzzHandshake, "GET", "POST", 1)), uint8(5))
	f.Add([]byte(strings.Replace(fuzzHandshake, "GET", "HEAD", 1)), uint8(6))
	f.Fuzz(func(t *testing.T, head []byte, split uint8) {
		p := New()
		p.Compression = true
		p.Subprotocols = []string{"b"}
		p.KeepRequest = split&1 == 1
		c := &fakeConn{limit: 4096}
		st := p.state(c)
		var fr framer
		step := int(split%16) + 1
		var err error
		for rest := head; len(rest) > 0 && err == nil && !c.closed; {
			n := min(step, len(rest))
			err = fr.feed(st, c, rest[:n], 1<<20, func([]byte) {})
			rest = rest[n:]
		}
		out := c.out.Bytes()
		switch {
		case len(out) == 0:
			if err == nil && bytes.Contains(head, []byte("\r\n\r\n")) && len(head) <= DefaultMaxHandshakeSize {
				t.Fatalf("no answer to a whole head: %q", head)
			}
		case bytes.HasPrefix(out, []byte("HTTP/1.1 101 ")):
			// Bytes after the head are frames and may close the connection.
			if i := bytes.Index(head, []byte("\r\n\r\n")); i+4 == len(head) && !IsOpen(c) {
				t.Fatal("101 sent but the connection is not open")
			}
			if p.KeepRequest && RequestOf(c) == nil {
				t.Fatal("kept request does not parse again")
			}
		case bytes.HasPrefix(out, []byte("HTTP/1.1 4")) || bytes.HasPrefix(out, []byte("HTTP/1.1 5")):
			if IsOpen(c) {
				t.Fatal("refused but open")
			}
			if bytes.HasPrefix(out, []byte("HTTP/1.1 405 ")) && !bytes.Contains(out, []byte("\r\nAllow: GET\r\n")) {
				t.Fatalf("405 without Allow: %q", out)
			}
			if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 && bytes.HasPrefix(head, []byte("HEAD ")) {
				if r, err := readRequest(head[:i+4]); err == nil && r.Method == "HEAD" && !bytes.HasSuffix(out, []byte("\r\n\r\n")) {
					t.Fatalf("answer to HEAD with a body: %q", out)
				}
			}
		default:
			t.Fatalf("answer %q", out)
		}
	})
}

// clientConn returns a fake connection with a client's WebSocket state
// whose upgrade request was sent, and the Sec-WebSocket-Accept it waits
// for.
func clientConn(t *testing.T, p *Protocol) (*fakeConn, *conn, string) {
	c := &fakeConn{limit: 4096}
	if err := p.ClientHandshake(c, "ws://x/chat?a=1"); err != nil {
		t.Fatal(err)
	}
	req, err := readRequest(c.out.Bytes())
	if err != nil {
		t.Fatalf("the client's request: %v", err)
	}
	c.out.Reset()
	return c, c.ctx.(*conn), AcceptKey(req.Header.Get("Sec-WebSocket-Key"))
}

const fuzzResponse = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Accept: {accept}\r\n"

// FuzzClientHandshake feeds arbitrary answers to a client's upgrade
// request ("{accept}" becomes the right Sec-WebSocket-Accept), split at
// arbitrary points: the client must never panic nor answer, and must open
// only on a 101 that answers its key.
func FuzzClientHandshake(f *testing.F) {
	for i, s := range []string{
		fuzzResponse + "\r\n",
		fuzzResponse + "Sec-WebSocket-Protocol: b\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n\r\n",
		fuzzResponse + "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; server_max_window_bits=10\r\n\r\n\x81\x02hi",
		fuzzResponse + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=9\r\n\r\n",
		fuzzResponse + "Sec-WebSocket-Protocol: c\r\n\r\n",
		fuzzResponse + "Sec-WebSocket-Extensions: x-foo, permessage-deflate\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
		"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno",
		"HTTP/1.1 302 Found\r\nLocation: /elsewhere?x=1\r\n\r\n",
		"HTTP/1.1 301 Moved Permanently\r\nLocation: https://[::1]:8443/a\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 307 Temporary Redirect\r\nLocation: :%zz\r\n\r\n",
		"HTTP/1.0 101 OK\r\n\r\n",
		"HTTP/1.1 101\r\nUpgrade: websocket, h2c\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n",
		"\r\n\r\n",
	} {
		f.Add([]byte(s), uint8(i))
	}
	f.Fuzz(func(t *testing.T, answer []byte, split uint8) {
		p := New()
		p.Compression = split&1 == 1
		p.Subprotocols = []string{"a", "b"}
		c, st, accept := clientConn(t, p)
		answer = bytes.ReplaceAll(answer, []byte("{accept}"), []byte(accept))
		var fr framer
		step := int(split%16) + 1
		var err error
		for rest := answer; len(rest) > 0 && err == nil && !c.closed; {
			n := min(step, len(rest))
			err = fr.feed(st, c, rest[:n], 1<<20, func([]byte) {})
			rest = rest[n:]
		}
		end := bytes.Index(answer, []byte("\r\n\r\n"))
		st.mu.Lock()
		phase := st.phase
		st.mu.Unlock()
		if phase == phaseHandshake || phase == phaseFailed {
			if c.out.Len() > 0 {
				t.Fatalf("the client answered a failed or unfinished handshake: %q", c.out.Bytes())
			}
			if phase == phaseFailed {
				var pe *core.ProtocolError
				if !errors.As(err, &pe) || !errors.Is(err, ErrBadHandshake) {
					t.Fatalf("failed handshake reported as %v", err)
				}
			} else if err != nil || end >= 0 && end+4 <= DefaultMaxHandshakeSize {
				t.Fatalf("a whole head left the handshake unfinished: %v", err)
			}
			return
		}
		// Open: the head must be a 101 answering the key, with an
		// offered subprotocol and deflate only when offered.
		r, rerr := http.ReadResponse(bufio.NewReader(bytes.NewReader(answer[:end+4])), nil)
		if rerr != nil || r.StatusCode != 101 || r.Header.Get("Sec-WebSocket-Accept") != accept {
			t.Fatalf("opened on %q", answer[:end+4])
		}
		if s := SubprotocolOf(c); s != "" && s != "a" && s != "b" {
			t.Fatalf("subprotocol %q", s)
		}
		if Compressed(c) && !p.Compression {
			t.Fatal("deflate that was not offered")
		}
	})
}

// FuzzClientFrameReader is FuzzFrameReader for a client: arbitrary server
// frames after a valid handshake, split at arbitrary points.
func FuzzClientFrameReader(f *testing.F) {
	seeds := [][]byte{
		{0x81, 0x05, 'h', 'e', 'l', 'l', 'o'},
		{0x01, 0x01, 'a', 0x89, 0x00, 0x80, 0x01, 'b'},
		{0x88, 0x02, 0x03, 0xe8},
		{0x88, 0x01, 0x03},
		{0x82, 0x7e, 0x01, 0x00},
		{0x82, 0x7f, 0, 0, 0, 0, 0, 0x10, 0, 0},
		{0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00},
		{0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2},
		{0x8a, 0x00},
		{0x01, 0x01, 0xff, 0x80, 0x01, 'a'},
		{0x81, 0x03, 0xed, 0xa0, 0x80},
	}
	for _, s := range seeds {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
		f.Add(s, uint8(6))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		p := New()
		p.Compression = true
		c, st, accept := clientConn(t, p)
		var fr framer
		head := strings.Replace(fuzzResponse, "{accept}", accept, 1) +
			"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n\r\n"
		if err := fr.feed(st, c, []byte(head), 1<<20, func([]byte) { t.Fatal("message from the handshake") }); err != nil || !IsOpen(c) {
			t.Fatalf("handshake: %v", err)
		}
		feedFrames(t, st, c, &fr, data, split)
		// Everything the client sent (pongs, close frames) is masked.
		for out := c.out.Bytes(); len(out) > 0; {
			h, size, ok, code, _ := parseHeader(out)
			if !ok || code != 0 || !h.masked || int64(len(out)) < int64(size)+h.length {
				t.Fatalf("the client sent %q", out)
			}
			out = out[int64(size)+h.length:]
		}
	})
}
