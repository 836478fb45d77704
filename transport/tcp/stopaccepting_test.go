package tcp_test

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// TestStopAcceptingIsDone: once StopAccepting returns, the Goer accepts
// nothing more: a reload reports its hand-over done then, and a
// connection made after it must reach the new process, not the old one.
// The epoll engine's loops take the listening socket out of their sets on
// their own goroutines; StopAccepting used to return before they had.
func TestStopAcceptingIsDone(t *testing.T) {
	deadline := time.Now().Add(20 * time.Second)
	for round := 0; round < 100 && time.Now().Before(deadline); round++ {
		var accepted, busy atomic.Int32
		g := core.NewGoer("127.0.0.1:0", nil, "tcp")
		g.OnConnect = func(core.Connection) { accepted.Add(1) }
		// Handlers that block keep the loops busy: the watchdog hands
		// them over, and the loops' posted work waits meanwhile.
		g.OnMessage = func(core.Connection, []byte) { busy.Add(1); time.Sleep(20 * time.Millisecond) }
		addr := start(t, g)
		var held []net.Conn
		for range 4 {
			c := dial(t, addr)
			c.Write([]byte("x"))
			held = append(held, c)
		}
		for busy.Load() < 4 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		accepted.Store(0)
		g.StopAccepting()
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			c.Read(make([]byte, 1))
			c.Close()
		}
		for _, c := range held {
			c.Close()
		}
		g.Stop()
		if n := accepted.Load(); n != 0 {
			t.Fatalf("round %d: %d connections accepted after StopAccepting returned", round, n)
		}
	}
}
