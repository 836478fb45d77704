package websocket

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/shunhui19/goes/core"
)

// benchConn is a core.Connection that frames bytes through a protocol the
// way core does and keeps what is sent, for benchmarks without sockets.
type benchConn struct {
	p   core.Protocol
	ctx any

	mu  sync.Mutex
	out []byte

	onMessage func(c core.Connection, data []byte)
}

func (f *benchConn) Send(data string, raw bool) error { return f.SendBytes([]byte(data), raw) }

func (f *benchConn) SendBytes(data []byte, raw bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if raw {
		f.out = append(f.out, data...)
		return nil
	}
	out, err := f.p.Encode(f, f.out, data)
	if err != nil {
		return err
	}
	f.out = out
	return nil
}

func (f *benchConn) Close(string)             {}
func (f *benchConn) GetRemoteAddress() string { return "127.0.0.1:40000" }
func (f *benchConn) GetRemoteIP() string      { return "127.0.0.1" }
func (f *benchConn) GetRemotePort() int       { return 40000 }
func (f *benchConn) GetLocalAddress() string  { return "127.0.0.1:8080" }
func (f *benchConn) GetLocalIP() string       { return "127.0.0.1" }
func (f *benchConn) GetLocalPort() int        { return 8080 }
func (f *benchConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (f *benchConn) LocalAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080} }
func (f *benchConn) GetID() int          { return 1 }
func (f *benchConn) Context() any        { return f.ctx }
func (f *benchConn) SetContext(v any)    { f.ctx = v }
func (f *benchConn) Goer() *core.Goer    { return nil }

// feed hands b to the protocol like core's receive loop does, for input
// that holds whole packages.
func (f *benchConn) feed(tb testing.TB, b []byte) {
	for len(b) > 0 {
		n, err := f.p.Input(f, b)
		if err != nil || n == 0 || n > len(b) {
			tb.Fatalf("Input = %d, %v", n, err)
		}
		msg, err := f.p.Decode(f, b[:n])
		b = b[n:]
		if errors.Is(err, core.ErrSkip) {
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		f.onMessage(f, msg)
	}
}

const benchHandshake = "GET /chat HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"

// openBenchConn returns a connection past the opening handshake.
func openBenchConn(tb testing.TB, p *Protocol, onMessage func(c core.Connection, data []byte)) *benchConn {
	f := &benchConn{p: p, onMessage: onMessage}
	f.feed(tb, []byte(benchHandshake))
	if !bytes.HasPrefix(f.out, []byte("HTTP/1.1 101 ")) {
		tb.Fatalf("handshake answered %q", f.out)
	}
	f.out = f.out[:0]
	return f
}

// maskedFrame builds a client's single-frame message.
func maskedFrame(op byte, payload []byte) []byte {
	m := [4]byte{1, 2, 3, 4}
	b := appendHeader(nil, ws.OpCode(op), true, false, len(payload), &m)
	start := len(b)
	b = append(b, payload...)
	for i := range b[start:] {
		b[start+i] ^= m[i%4]
	}
	return b
}

// BenchmarkEcho is one 64-byte binary message in and out, as tools/bench
// sends it, answered with SendMessage (the echo of the package doc) and
// with Send.
func BenchmarkEcho(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 64)
	in := maskedFrame(0x2, payload)
	for _, tc := range []struct {
		name string
		echo func(c core.Connection, data []byte)
	}{
		{"SendMessage", func(c core.Connection, data []byte) { SendMessage(c, MessageTypeOf(c), data) }},
		{"Send", func(c core.Connection, data []byte) { c.SendBytes(data, false) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			p := New()
			p.SendType = BinaryMessage
			f := openBenchConn(b, p, tc.echo)
			frame := make([]byte, len(in))
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for i := 0; i < b.N; i++ {
				copy(frame, in) // Decode unmasks in place
				f.feed(b, frame)
				if len(f.out) != len(payload)+2 {
					b.Fatalf("echo of %d bytes", len(f.out))
				}
				f.out = f.out[:0]
			}
		})
	}
}

// TestEchoAllocations keeps the echo of a small message free of
// allocations.
func TestEchoAllocations(t *testing.T) {
	payload := bytes.Repeat([]byte("x"), 64)
	in := maskedFrame(0x2, payload)
	frame := make([]byte, len(in))
	for _, tc := range []struct {
		name string
		echo func(c core.Connection, data []byte)
	}{
		{"SendMessage", func(c core.Connection, data []byte) { SendMessage(c, MessageTypeOf(c), data) }},
		{"Send", func(c core.Connection, data []byte) { c.SendBytes(data, false) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := openBenchConn(t, New(), tc.echo)
			allocs := testing.AllocsPerRun(100, func() {
				copy(frame, in)
				f.feed(t, frame)
				f.out = f.out[:0]
			})
			switch {
			case raceEnabled: // counted without -race (make test runs Alloc tests so)
				t.Logf("%.1f allocations per echo under -race", allocs)
			case allocs > 0:
				t.Fatalf("%.1f allocations per echo, want 0", allocs)
			}
		})
	}
}

// TestClientSendAllocations keeps the sends of an open client connection
// (core.AsyncConnection) as free of allocations as a server's: a send
// makes no closure for the queue that waits for the handshake when there
// is none to wait for.
func TestClientSendAllocations(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { // a server that accepts the handshake and reads on
		defer close(served)
		c, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Accept: " + AcceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"))
		io.Copy(io.Discard, br)
	}()
	a := core.NewAsyncConnection("ws://"+ln.Addr().String()+"/", New())
	a.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	up, closed := make(chan struct{}), make(chan struct{})
	a.OnConnect = func(core.Connection) { close(up) }
	a.OnClose = func(core.Connection) { close(closed) }
	a.Connect()
	defer func() {
		a.Destroy()
		<-closed
		<-served
	}()
	select {
	case <-up:
	case <-closed:
		t.Fatal("the client did not connect")
	case <-time.After(10 * time.Second):
		t.Fatal("timed out connecting")
	}
	payload := bytes.Repeat([]byte("x"), 64)
	for _, tc := range []struct {
		name string
		send func() error
	}{
		{"SendMessage", func() error { return SendMessage(a, TextMessage, payload) }},
		{"SendBinary", func() error { return SendBinary(a, payload) }},
		{"Ping", func() error { return Ping(a, payload[:8]) }},
		{"SetSendType", func() error { return SetSendType(a, BinaryMessage) }},
		{"Send", func() error { return a.SendBytes(payload, false) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			allocs := testing.AllocsPerRun(200, func() {
				if e := tc.send(); e != nil {
					err = e
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case raceEnabled: // counted without -race (make test runs Alloc tests so)
				t.Logf("%.1f allocations per send under -race", allocs)
			case allocs > 0:
				t.Fatalf("%.1f allocations per send on an open client, want 0", allocs)
			}
		})
	}
}

// BenchmarkHandshake is the opening handshake of a connection, answered
// with 101: its garbage is what opening many connections at once leaves
// for the collector.
func BenchmarkHandshake(b *testing.B) {
	p := New()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		openBenchConn(b, p, nil)
	}
}
