package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/examples/internal/testutil"
	"github.com/shunhui19/goes/protocol/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
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

// TestClientReconnects: the client prints text and binary answers, sends
// what is typed before the handshake once it is answered, and answers
// again once the server is back after a restart.
func TestClientReconnects(t *testing.T) {
	g := echo("127.0.0.1:0")
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	addr := g.Addr().String()
	var out testutil.SyncBuffer
	closed := make(chan struct{}, 1)
	c := newClient("ws://"+addr+"/", &out, closed)
	c.Logger = g.Logger
	c.Connect()
	for _, line := range []string{"hello", "/bin hi", "/ping"} { // before the handshake: queued
		if err := send(c, line); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
	}
	testutil.WaitFor(t, "the answers", func() bool { return strings.Contains(out.String(), "< hello\n< [binary] 6869\n") })
	g.Stop()
	testutil.WaitFor(t, "the disconnect", func() bool { return strings.Contains(out.String(), "disconnected (1001") })
	send(c, "lost") // not connected: refused, not queued
	g2 := echo(addr)
	if err := g2.Start(); err != nil {
		t.Fatal(err)
	}
	defer g2.Stop()
	testutil.WaitFor(t, "the reconnect", func() bool { return strings.Count(out.String(), "connected to") == 2 })
	send(c, "again")
	testutil.WaitFor(t, "the second answer", func() bool { return strings.Contains(out.String(), "< again\n") })
	n := strings.Count(out.String(), "disconnected")
	websocket.CloseWith(c, websocket.CloseNormal, "bye")
	testutil.WaitFor(t, "the close", func() bool { return strings.Count(out.String(), "disconnected (1000 bye)") == 1 })
	if strings.Count(out.String(), "disconnected") != n+1 || strings.Contains(out.String(), "lost") {
		t.Errorf("unexpected output:\n%s", out.String())
	}
}
