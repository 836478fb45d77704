package tcp

import (
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// A writer that runs out of kernel room before its loop has registered the
// socket (a broadcast reaches the new connection through the store while
// the loop is busy) must still be woken when the peer reads: the
// registration carries the interest the writer asked for meanwhile.
func TestEpollWriteBeforeRegistration(t *testing.T) {
	const size = 16 << 20
	answer := strings.Repeat("w", size)
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.Engine = "epoll"
	g.MaxSendBufferSize = 2 * size
	g.CloseTimeout = 200 * time.Millisecond
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	eng := g.Listener().(*listener).epoll
	busy := make(chan struct{})
	for _, l := range eng.loops {
		l.post(func() { <-busy })
	}
	c, err := net.DialTimeout("tcp", g.Addr().String(), 5*time.Second)
	if err != nil {
		close(busy)
		t.Fatal(err)
	}
	defer c.Close()
	var conn *core.TCPConnection
	for deadline := time.Now().Add(5 * time.Second); conn == nil && time.Now().Before(deadline); {
		g.Connections.Range(func(_ int, tc *core.TCPConnection) bool { conn = tc; return false })
		time.Sleep(time.Millisecond)
	}
	if conn == nil {
		close(busy)
		t.Fatal("the connection never reached the store")
	}
	if err := conn.Send(answer, true); err != nil {
		close(busy)
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the writer finds the kernel full and waits
	close(busy)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := io.ReadFull(c, make([]byte, size))
	if err != nil {
		t.Fatalf("read %d of %d bytes: %v", n, size, err)
	}
}

// A handler that blocks hands its loop to a new goroutine: the loop's other
// connections are answered meanwhile, and what the blocked connection's
// peer sends while its handler blocks is delivered afterwards, in order.
func TestEpollBlockingHandlerHandsLoopOver(t *testing.T) {
	release := make(chan struct{})
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.Engine = "epoll"
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g.OnMessage = func(c core.Connection, d []byte) {
		if string(d) == "block" {
			<-release
		}
		c.SendBytes(d, false)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Stop() }) // after the clients close
	eng := g.Listener().(*listener).epoll
	dial := func() net.Conn {
		c, err := net.DialTimeout("tcp", g.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	blocked := dial()
	// Every loop gets a connection besides the blocked one's.
	others := make([]net.Conn, 2*len(eng.loops))
	for i := range others {
		others[i] = dial()
	}
	if _, err := blocked.Write([]byte("block")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := blocked.Write([]byte("after")); err != nil {
		t.Fatal(err)
	}
	for i, c := range others {
		msg := []byte("ping" + strings.Repeat("!", i))
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != string(msg) {
			close(release)
			t.Fatalf("connection %d while another handler blocks: %q, %v", i, got, err)
		}
	}
	if eng.handoffs.Load() == 0 {
		close(release)
		t.Fatal("no loop was handed over while a handler blocked")
	}
	close(release)
	blocked.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len("blockafter"))
	if _, err := io.ReadFull(blocked, got); err != nil || string(got) != "blockafter" {
		t.Fatalf("blocked connection got %q, %v", got, err)
	}
}
