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
	"github.com/shunhui19/goes/protocol/websocket"
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

// echo is the websocket example's server: every message back, same type.
func echo(addr string) *core.Goer {
	g := core.NewGoer(addr, websocket.New(), "tcp")
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g.OnMessage = func(c core.Connection, data []byte) {
		websocket.SendMessage(c, websocket.MessageTypeOf(c), data)
	}
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

// TestClientReconnects: the client prints text and binary answers, sends
// what is typed before the handshake once it is answered, and answers
// again once the server is back after a restart.
func TestClientReconnects(t *testing.T) {
	g := echo("127.0.0.1:0")
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	addr := g.Addr().String()
	var out syncBuffer
	closed := make(chan struct{}, 1)
	c := newClient("ws://"+addr+"/", &out, closed)
	c.Logger = g.Logger
	c.Connect()
	for _, line := range []string{"hello", "/bin hi", "/ping"} { // before the handshake: queued
		if err := send(c, line); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
	}
	waitFor(t, "the answers", func() bool { return strings.Contains(out.String(), "< hello\n< [binary] 6869\n") })
	g.Stop()
	waitFor(t, "the disconnect", func() bool { return strings.Contains(out.String(), "disconnected (1001") })
	send(c, "lost") // not connected: refused, not queued
	g2 := echo(addr)
	if err := g2.Start(); err != nil {
		t.Fatal(err)
	}
	defer g2.Stop()
	waitFor(t, "the reconnect", func() bool { return strings.Count(out.String(), "connected to") == 2 })
	send(c, "again")
	waitFor(t, "the second answer", func() bool { return strings.Contains(out.String(), "< again\n") })
	n := strings.Count(out.String(), "disconnected")
	websocket.CloseWith(c, websocket.CloseNormal, "bye")
	waitFor(t, "the close", func() bool { return strings.Count(out.String(), "disconnected (1000 bye)") == 1 })
	if strings.Count(out.String(), "disconnected") != n+1 || strings.Contains(out.String(), "lost") {
		t.Errorf("unexpected output:\n%s", out.String())
	}
}
