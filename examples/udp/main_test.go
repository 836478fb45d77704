package main

import (
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/text"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The example's echo answers a datagram client speaking the text
// protocol, on 127.0.0.1 and on [::1] where the host has it: each line
// comes back as one message, two lines in one datagram as two.
func TestEchoTextClient(t *testing.T) {
	hosts := []string{"127.0.0.1"}
	if pc, err := net.ListenPacket("udp6", "[::1]:0"); err == nil {
		pc.Close()
		hosts = append(hosts, "[::1]")
	}
	for _, host := range hosts {
		t.Run(host, func(t *testing.T) {
			g := core.NewGoer(host+":0", text.New(), "udp")
			g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			g.OnMessage = echo
			if err := g.Start(); err != nil {
				t.Fatal(err)
			}
			defer g.Stop()

			msgs := make(chan string, 100)
			closed := make(chan struct{})
			c := core.NewAsyncUdpConnection("udp://"+g.Addr().String(), text.New())
			c.Logger = g.Logger
			c.OnMessage = func(_ core.Connection, line []byte) { msgs <- string(line) }
			c.OnClose = func(core.Connection) { close(closed) }
			c.Connect()
			want := []string{"hello", "two", "lines"}
			c.Send("hello", false)
			c.Send("two\nlines", false) // one datagram, two packages
			for _, w := range want {
				select {
				case got := <-msgs:
					if got != w {
						t.Fatalf("got %q, want %q", got, w)
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("no %q within 5 s", w)
				}
			}
			c.Close("")
			select {
			case <-closed:
			case <-time.After(5 * time.Second):
				t.Fatal("OnClose did not run")
			}
			if n := c.Stats().Requests.Load(); n != int64(len(want)) {
				t.Fatalf("%d messages", n)
			}
		})
	}
}
