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

// A peer that sends 20 binary messages of 1 MiB and reads only afterwards
// gets all 20 back, in order: the server stops reading while the echoes
// cannot be queued instead of dropping them.
func TestBigMessagesReadLate(t *testing.T) {
	g := newGoer("127.0.0.1:0")
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, _, err := cws.Dial(ctx, "ws://"+g.Addr().String()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	c.SetReadLimit(2 << 20)
	msgs := make([][]byte, 20)
	for i := range msgs {
		msgs[i] = bytes.Repeat([]byte{byte(i)}, 1<<20)
	}
	wrote := make(chan error, 1)
	go func() {
		for _, m := range msgs {
			if err := c.Write(ctx, cws.MessageBinary, m); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	select { // reads once the writes are done (or, if TCP holds them back, after 2 s)
	case err := <-wrote:
		wrote <- err
	case <-time.After(2 * time.Second):
	}
	for i, m := range msgs {
		typ, b, err := c.Read(ctx)
		if err != nil || typ != cws.MessageBinary || !bytes.Equal(b, m) {
			t.Fatalf("echo %d of %d: %v, %d bytes, %v", i, len(msgs), typ, len(b), err)
		}
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	c.Close(cws.StatusNormalClosure, "")
}
