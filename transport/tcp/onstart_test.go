package tcp_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// A panic in OnStart fails Start: the error names it, the port is free
// again, the Goer's timer and every goroutine are gone (goleak), and Done
// is closed.
func TestOnStartPanicFailsStart(t *testing.T) {
	addr := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}()
	g := core.NewGoer(addr, lines{}, "tcp")
	g.Logger = quietLogger()
	g.OnStart = func(g *core.Goer) {
		g.Timer().Add(time.Millisecond, func(...any) {}, nil, true)
		panic("setup failed")
	}
	g.OnConnect = func(c core.Connection) { t.Error("a connection was served") }
	err := g.Start()
	if !errors.Is(err, core.ErrStartPanic) || !strings.Contains(err.Error(), "setup failed") {
		t.Fatalf("Start = %v, want ErrStartPanic naming the panic", err)
	}
	select {
	case <-g.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after a failed Start")
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the port is still held after a failed Start: %v", err)
	}
	ln.Close()
	g.Stop() // a no-op, and it does not block
}
