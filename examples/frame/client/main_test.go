package main

import (
	"bytes"
	"io"
	"log/slog"
	"testing"

	"go.uber.org/goleak"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/text"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRun(t *testing.T) {
	g := core.NewGoer("127.0.0.1:0", text.NewFrame(), "tcp")
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g.OnMessage = func(c core.Connection, data []byte) { _ = c.SendBytes(data, false) }
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer g.Stop()

	var out bytes.Buffer
	if err := run(g.Addr().String(), []string{"one", "", "a\x00b"}, &out); err != nil {
		t.Fatal(err)
	}
	if want := "\"one\"\n\"\"\n\"a\\x00b\"\n"; out.String() != want {
		t.Fatalf("printed %q, want %q", out.String(), want)
	}
}

func TestRunNoServer(t *testing.T) {
	// Take a free port, then let it go: nothing listens there.
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	addr := g.Addr().String()
	g.Stop()
	if err := run(addr, []string{"x"}, io.Discard); err == nil {
		t.Fatal("run against a closed port succeeded")
	}
}
