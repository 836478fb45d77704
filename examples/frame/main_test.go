package main

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shunhui19/goes/protocol/text"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestEcho(t *testing.T) {
	g := newGoer("127.0.0.1:0")
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer g.Stop()

	c, err := net.DialTimeout("tcp", g.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	msgs := []string{"hello", "", "with\nnewline"}
	for _, m := range msgs {
		if err := text.WriteFrame(c, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range msgs {
		got, err := text.ReadFrame(c, 1<<10)
		if err != nil || string(got) != want {
			t.Fatalf("reply %q, %v; want %q", got, err, want)
		}
	}
}
