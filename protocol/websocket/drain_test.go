package websocket_test

import (
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/websocket"
)

// startWS starts a WebSocket Goer for the drain tests.
func startWS(t *testing.T, p *websocket.Protocol, setup func(g *core.Goer)) *core.Goer {
	t.Helper()
	g := core.NewGoer("127.0.0.1:0", p, "tcp")
	g.Logger = quietLogger()
	g.OnMessage = echo
	if setup != nil {
		setup(g)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Stop)
	return g
}

func stopWithin(g *core.Goer, grace time.Duration) <-chan time.Duration {
	ch := make(chan time.Duration, 1)
	begin := time.Now()
	go func() { g.StopWithin(grace); ch <- time.Since(begin) }()
	return ch
}

// readText reads frames until a text message and returns it.
func (rc *rawClient) readText() string {
	rc.t.Helper()
	for {
		_, op, p, err := rc.read()
		if err != nil {
			rc.t.Fatalf("read: %v", err)
		}
		if op == 0x1 {
			return string(p)
		}
		if op == 0x8 {
			rc.t.Fatalf("close frame %v while a message was expected", p)
		}
	}
}

// expectEOF reads until the server closes the connection, then closes it.
func (rc *rawClient) expectEOF() {
	rc.t.Helper()
	rc.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, op, _, err := rc.read()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				rc.t.Fatalf("want EOF, got %v", err)
			}
			rc.c.Close()
			return
		}
		if op != 0x8 {
			rc.t.Fatalf("frame %#x after the close handshake", op)
		}
	}
}

// readCloseFrame reads frames until a close frame and returns its code.
func (rc *rawClient) readCloseFrame() int {
	rc.t.Helper()
	for {
		_, op, p, err := rc.read()
		if err != nil {
			rc.t.Fatalf("expected a close frame: %v", err)
		}
		if op == 0x8 && len(p) >= 2 {
			return int(p[0])<<8 | int(p[1])
		}
	}
}

// At the start of a graceful stop an open WebSocket gets 1001 at once, after
// what OnGracefulStop sent; a message the client sent before it read the
// close frame still reaches OnMessage; the client's answer ends the
// connection, and the stop returns without waiting for GracefulTimeout.
func TestDrainSendsGoingAway(t *testing.T) {
	var got atomic.Value
	g := startWS(t, websocket.New(), func(g *core.Goer) {
		g.OnMessage = func(c core.Connection, data []byte) {
			got.Store(string(data))
			echo(c, data)
		}
		g.OnGracefulStop = func(c core.Connection) { c.Send("restarting", false) }
	})
	rc, _ := dialRaw(t, g.Addr().String(), "/")
	rc.write(frame(true, 0x1, []byte("hi"), true))
	if m := rc.readText(); m != "hi" {
		t.Fatalf("echo %q", m)
	}
	stopped := stopWithin(g, 30*time.Second)
	begin := time.Now()
	if m := rc.readText(); m != "restarting" {
		t.Fatalf("OnGracefulStop's message: %q", m)
	}
	if code := rc.readCloseFrame(); code != websocket.CloseGoingAway {
		t.Fatalf("close code %d, want 1001", code)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Fatalf("1001 came %v after the drain began", d)
	}
	rc.write(frame(true, 0x1, []byte("in the gap"), true))
	waitFor(t, "the message sent in the gap", func() bool { return got.Load() == "in the gap" })
	rc.write(frame(true, 0x8, closePayload(websocket.CloseGoingAway, ""), true))
	rc.expectEOF()
	select {
	case d := <-stopped:
		if d > 3*time.Second {
			t.Fatalf("the stop took %v", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stop did not return")
	}
}

// A client that never answers the close frame is closed after CloseTimeout.
func TestDrainGoingAwayUnanswered(t *testing.T) {
	g := startWS(t, websocket.New(), func(g *core.Goer) { g.CloseTimeout = 300 * time.Millisecond })
	rc, _ := dialRaw(t, g.Addr().String(), "/")
	stopped := stopWithin(g, 30*time.Second)
	if code := rc.readCloseFrame(); code != websocket.CloseGoingAway {
		t.Fatalf("close code %d, want 1001", code)
	}
	select {
	case d := <-stopped:
		if d > 3*time.Second {
			t.Fatalf("the stop took %v", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stop did not return")
	}
}

// With ServeWhileDraining the connections are served through the drain and
// get 1001 when GracefulTimeout (shortened) ends it.
func TestDrainServeWhileDraining(t *testing.T) {
	p := websocket.New()
	p.ServeWhileDraining = true
	g := startWS(t, p, nil)
	rc, _ := dialRaw(t, g.Addr().String(), "/")
	const grace = 600 * time.Millisecond
	stopped := stopWithin(g, grace)
	time.Sleep(grace / 3)
	rc.write(frame(true, 0x1, []byte("still"), true))
	if m := rc.readText(); m != "still" {
		t.Fatalf("during the drain: %q", m)
	}
	if code := rc.readCloseFrame(); code != websocket.CloseGoingAway {
		t.Fatalf("close code %d, want 1001", code)
	}
	rc.write(frame(true, 0x8, closePayload(websocket.CloseGoingAway, ""), true))
	rc.expectEOF()
	select {
	case d := <-stopped:
		if d > grace+3*time.Second {
			t.Fatalf("the stop took %v", d)
		}
		if d < grace {
			t.Fatalf("the stop took %v, less than its graceful timeout", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stop did not return")
	}
}
