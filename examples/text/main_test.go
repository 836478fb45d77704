package main

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
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
	// As nc and telnet send them.
	if _, err := io.WriteString(c, "hello\nfrom telnet\r\n\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	for _, want := range []string{"hello\n", "from telnet\n", "\n"} {
		got, err := r.ReadString('\n')
		if err != nil || got != want {
			t.Fatalf("reply %q, %v; want %q", got, err, want)
		}
	}
}
