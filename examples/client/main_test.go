package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/examples/internal/testutil"
	"github.com/shunhui19/goes/protocol/text"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func echo(addr string) *core.Goer {
	g := core.NewGoer(addr, text.New(), "tcp")
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g.OnMessage = func(c core.Connection, line []byte) { c.SendBytes(line, false) }
	return g
}

// TestClientReconnects: the client prints the answers, and answers again
// once the server is back after a restart.
func TestClientReconnects(t *testing.T) {
	g := echo("127.0.0.1:0")
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	addr := g.Addr().String()
	var out testutil.SyncBuffer
	closed := make(chan struct{}, 1)
	c := newClient("tcp://"+addr, &out, closed)
	c.Logger = g.Logger
	c.Connect()
	c.Send("hello", false)
	testutil.WaitFor(t, "the answer", func() bool { return strings.Contains(out.String(), "< hello\n") })
	g.Stop()
	testutil.WaitFor(t, "the disconnect", func() bool { return strings.Contains(out.String(), "disconnected") })
	c.Send("lost", false) // not connected: refused, not queued
	g2 := echo(addr)
	if err := g2.Start(); err != nil {
		t.Fatal(err)
	}
	defer g2.Stop()
	testutil.WaitFor(t, "the reconnect", func() bool { return strings.Count(out.String(), "connected to") == 2 })
	c.Send("again", false)
	testutil.WaitFor(t, "the second answer", func() bool { return strings.Contains(out.String(), "< again\n") })
	n := strings.Count(out.String(), "disconnected")
	c.Close("")
	testutil.WaitFor(t, "the close", func() bool { return strings.Count(out.String(), "disconnected") == n+1 })
	if strings.Contains(out.String(), "lost") {
		t.Errorf("a line sent while disconnected came back:\n%s", out.String())
	}
}
