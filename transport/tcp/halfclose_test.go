package tcp_test

import (
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// A peer that half-closes its write side after its request still gets the
// whole answer: what the handlers queued is flushed before the connection
// closes, on both engines, and OnClose runs once.
func TestPeerHalfCloseGetsAnswer(t *testing.T) {
	for _, tc := range []struct {
		name         string
		handlerDelay time.Duration // the handler is slow to answer
		readDelay    time.Duration // the peer is slow to read
		size         int
	}{
		{"slow handler", 100 * time.Millisecond, 0, 10},
		{"big answer, slow reader", 0, 200 * time.Millisecond, 4 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answer := strings.Repeat("a", tc.size)
			var closes atomic.Int32
			g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
			g.MaxSendBufferSize = 8 << 20
			g.OnMessage = func(c core.Connection, d []byte) {
				time.Sleep(tc.handlerDelay)
				if err := c.Send(answer, false); err != nil {
					t.Errorf("send: %v", err)
				}
			}
			g.OnClose = func(core.Connection) { closes.Add(1) }
			addr := start(t, g)
			c := dial(t, addr)
			c.Write([]byte("question\n"))
			c.(*net.TCPConn).CloseWrite()
			time.Sleep(tc.readDelay)
			got := expectCleanEOF(t, c, 10*time.Second)
			if string(got) != answer+"\n" {
				t.Fatalf("got %d bytes, want %d", len(got), len(answer)+1)
			}
			waitFor(t, "OnClose", func() bool { return closes.Load() == 1 })
			time.Sleep(20 * time.Millisecond)
			if n := closes.Load(); n != 1 {
				t.Fatalf("OnClose ran %d times", n)
			}
		})
	}
}

// Close waits for the peer's EOF after flushing, but a peer that never
// closes is cut off after CloseTimeout.
func TestCloseBoundedByTimeout(t *testing.T) {
	closed := make(chan time.Time, 1)
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.CloseTimeout = 300 * time.Millisecond
	g.OnConnect = func(c core.Connection) { c.Close("bye") }
	g.OnClose = func(core.Connection) { closed <- time.Now() }
	addr := start(t, g)
	c := dial(t, addr)
	began := time.Now()
	if got := expectCleanEOF(t, c, 10*time.Second); string(got) != "bye" { // the server's half-close
		t.Fatalf("got %q", got)
	}
	select {
	case at := <-closed:
		if el := at.Sub(began); el < 200*time.Millisecond {
			t.Fatalf("closed after %v, before the peer's EOF or the timeout", el)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a peer that never closes held the connection past CloseTimeout")
	}
}
