package tcp_test

import (
	"bufio"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// On the epoll engine an idle connection holds no goroutine; on the
// goroutine engine it holds one reader.
func TestIdleConnectionsGoroutines(t *testing.T) {
	for _, engine := range []string{"goroutine", "epoll"} {
		t.Run(engine, func(t *testing.T) {
			const n = 500
			g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
			g.Engine = engine
			g.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(d, false) }
			addr := start(t, g)
			before := runtime.NumGoroutine()
			conns := make([]net.Conn, 0, n)
			for i := 0; i < n; i++ {
				c := dial(t, addr)
				fmt.Fprintf(c, "hi %d\n", i)
				if got := readLine(t, bufio.NewReader(c)); got != fmt.Sprintf("hi %d", i) {
					t.Fatalf("got %q", got)
				}
				conns = append(conns, c)
			}
			time.Sleep(50 * time.Millisecond)
			extra := runtime.NumGoroutine() - before
			switch engine {
			case "epoll":
				if extra > 20 {
					t.Fatalf("%d idle connections hold %d goroutines", n, extra)
				}
			case "goroutine":
				if extra < n-20 { // other goroutines come and go meanwhile
					t.Fatalf("goroutine engine: %d goroutines for %d connections", extra, n)
				}
			}
			for _, c := range conns {
				c.Close()
			}
			waitFor(t, "connections to close", func() bool { return g.Connections.Len() == 0 })
		})
	}
}

func TestUnknownEngine(t *testing.T) {
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.Engine = "quantum"
	g.Logger = quietLogger()
	if err := g.Start(); err == nil {
		g.Stop()
		t.Fatal("started with an unknown engine")
	}
}
