package tcp_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"testing"
	"time"
)

// TestPipeHalfClose: a half-close passes through a Pipe both ways. The
// client shuts down its write side after its request: the backend reads
// the whole request, then EOF (the FIN came through after every byte), and
// its answer, sent after that, still reaches the client. The other way
// round: the backend says hello and shuts down its write side; the client
// reads the hello and EOF, and what it sends afterwards still reaches the
// backend. Both pairs close afterwards.
func TestPipeHalfClose(t *testing.T) {
	for _, tc := range []struct {
		name        string
		clientFirst bool // the client half-closes first
		request     int  // bytes the client sends
		answer      int  // bytes the backend sends
		slowBackend bool // the backend reads the request late
		slowClient  bool // the client reads the answer late
	}{
		{name: "client half-closes after its request", clientFirst: true, request: 1 << 20, answer: 2 << 20},
		{name: "client half-closes, backend reads late", clientFirst: true, request: 4 << 20, answer: 64 << 10, slowBackend: true},
		{name: "client half-closes, reads a big answer late", clientFirst: true, request: 64 << 10, answer: 16 << 20, slowClient: true},
		{name: "backend half-closes after its hello", answer: 512 << 10, request: 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			request, answer := random(t, tc.request), random(t, tc.answer)
			got := make(chan []byte, 1)
			go func() {
				b, err := ln.Accept()
				if err != nil {
					got <- nil
					return
				}
				defer b.Close()
				b.SetDeadline(time.Now().Add(30 * time.Second))
				if !tc.clientFirst {
					b.Write(answer)
					b.(*net.TCPConn).CloseWrite()
				}
				if tc.slowBackend {
					time.Sleep(300 * time.Millisecond)
				}
				req, _ := io.ReadAll(b) // until the client's FIN
				if tc.clientFirst {
					b.Write(answer)
					b.(*net.TCPConn).CloseWrite()
				}
				got <- req
			}()
			proxy, clients := pipeProxy(t, "tcp://"+ln.Addr().String())
			addr := start(t, proxy)
			c := dial(t, addr)
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			if !tc.clientFirst {
				if hello, err := io.ReadAll(c); err != nil || !bytes.Equal(hello, answer) {
					t.Fatalf("read %d bytes of the backend's %d before its FIN: %v", len(hello), len(answer), err)
				}
			}
			if _, err := c.Write(request); err != nil {
				t.Fatalf("write: %v", err)
			}
			c.(*net.TCPConn).CloseWrite()
			var reply []byte
			if tc.slowClient {
				time.Sleep(500 * time.Millisecond)
			}
			if tc.clientFirst {
				if reply, err = io.ReadAll(c); err != nil {
					t.Fatalf("read the answer: %v", err)
				}
			}
			var req []byte
			select {
			case req = <-got:
			case <-time.After(30 * time.Second):
				t.Fatal("the backend never saw the client's FIN")
			}
			if !bytes.Equal(req, request) {
				t.Fatalf("the backend read %d bytes, want the %d of the request", len(req), len(request))
			}
			if tc.clientFirst && !bytes.Equal(reply, answer) {
				t.Fatalf("the client read %d bytes, want the %d of the answer", len(reply), len(answer))
			}
			if !tc.clientFirst {
				if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
					t.Fatalf("after both half-closes: read %d, %v; want EOF", n, err)
				}
			}
			waitFor(t, "the client side to close", func() bool { return clients.Load() == 0 })
			waitFor(t, "the accepted side to close", func() bool { return proxy.Connections.Len() == 0 })
		})
	}
}

func random(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
