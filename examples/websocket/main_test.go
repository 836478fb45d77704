package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	cws "github.com/coder/websocket"
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
	for _, path := range []string{"/", "/any/path?x=1"} {
		t.Run(path, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _, err := cws.Dial(ctx, "ws://"+g.Addr().String()+path, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.CloseNow()
			for _, m := range []struct {
				typ  cws.MessageType
				data []byte
			}{{cws.MessageText, []byte("hello, goer")}, {cws.MessageBinary, []byte{0, 1, 2}}, {cws.MessageText, nil}} {
				if err := c.Write(ctx, m.typ, m.data); err != nil {
					t.Fatal(err)
				}
				typ, b, err := c.Read(ctx)
				if err != nil || typ != m.typ || !bytes.Equal(b, m.data) {
					t.Fatalf("got %v %q %v, want %v %q", typ, b, err, m.typ, m.data)
				}
			}
			if err := c.Close(cws.StatusNormalClosure, ""); err != nil {
				t.Fatal(err)
			}
		})
	}
}
