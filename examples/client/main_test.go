package main

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/text"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func echo(addr string) *core.Goer {
	g := core.NewGoer(addr, text.New(), "tcp")
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g.OnMessage = func(c core.Connection, line []byte) { c.SendBytes(line, false) }
	return g
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestClientReconnects: the client prints the answers, and answers again
// once the server is back after a restart.
func TestClientReconnects(t *testing.T) {
	g := echo("127.0.0.1:0")
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	addr := g.Addr().String()
	var out syncBuffer
	closed := make(chan struct{}, 1)
	c := newClient("tcp://"+addr, &out, closed)
	c.Logger = g.Logger
	c.Connect()
	c.Send("hello", false)
	waitFor(t, "the answer", func() bool { return strings.Contains(out.String(), "< hello\n") })
	g.Stop()
	waitFor(t, "the disconnect", func() bool { return strings.Contains(out.String(), "disconnected") })
	c.Send("lost", false) // not connected: refused, not queued
	g2 := echo(addr)
	if err := g2.Start(); err != nil {
		t.Fatal(err)
	}
	defer g2.Stop()
	waitFor(t, "the reconnect", func() bool { return strings.Count(out.String(), "connected to") == 2 })
	c.Send("again", false)
	waitFor(t, "the second answer", func() bool { return strings.Contains(out.String(), "< again\n") })
	n := strings.Count(out.String(), "disconnected")
	c.Close("")
	waitFor(t, "the close", func() bool { return strings.Count(out.String(), "disconnected") == n+1 })
	if strings.Contains(out.String(), "lost") {
		t.Errorf("a line sent while disconnected came back:\n%s", out.String())
	}
}
