package websocket

import (
	"bytes"
	"errors"
	"net"
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
	})
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
