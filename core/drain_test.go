package core

import (
	"sync"
	"testing"
	"time"
)

// A graceful stop that reaches a connection accepted but not yet opened by
// its engine waits for OnConnect: the drain must not run first.
func TestDrainBeforeOpenWaitsForOnConnect(t *testing.T) {
	g := NewGoer("127.0.0.1:0", nil, "tcp")
	g.setDefaults()
	g.state = goerRunning
	var mu sync.Mutex
	var order []string
	note := func(s string) {
		mu.Lock()
		order = append(order, s)
		mu.Unlock()
	}
	g.OnConnect = func(Connection) { note("connect") }
	g.OnGracefulStop = func(Connection) { note("graceful stop") }
	s, err := g.Accept(&sinkSocket{})
	if err != nil {
		t.Fatal(err)
	}
	g.drainAll() // before the engine's Open
	time.Sleep(20 * time.Millisecond)
	s.Open()
	mu.Lock()
	got := append([]string(nil), order...)
	mu.Unlock()
	if len(got) != 2 || got[0] != "connect" || got[1] != "graceful stop" {
		t.Fatalf("callbacks ran as %v, want OnConnect, then OnGracefulStop", got)
	}
	s.Closed(nil)
}
