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
// socket (OnConnect answers at once, the loop is busy) must still be woken
// when the peer reads: the registration carries the interest the writer
// asked for meanwhile.
func TestEpollWriteBeforeRegistration(t *testing.T) {
	const size = 16 << 20
	answer := strings.Repeat("w", size)
	sent := make(chan error, 1)
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.Engine = "epoll"
	g.MaxSendBufferSize = 2 * size
	g.CloseTimeout = 200 * time.Millisecond
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g.OnConnect = func(c core.Connection) { sent <- c.Send(answer, true) }
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
	if err := <-sent; err != nil {
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
