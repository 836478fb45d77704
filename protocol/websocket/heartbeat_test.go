package websocket_test

import (
	"bytes"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/websocket"
)

// floodingPeer is a raw client of an echo server with PingInterval iv that
// sends count binary messages of 16 KiB from a goroutine without reading,
// so that the server stops reading it, its pongs included. write sends a
// frame between two of the flood's.
type floodingPeer struct {
	*rawClient
	sc     *core.TCPConnection // the server's side
	closed chan string         // the reasons of the server's OnClose
	wmu    sync.Mutex
	flood  chan error
}

func newFloodingPeer(t *testing.T, iv time.Duration, count int) *floodingPeer {
	t.Helper()
	p := websocket.New()
	p.PingInterval = iv
	conns := make(chan *core.TCPConnection, 1)
	fp := &floodingPeer{closed: make(chan string, 1), flood: make(chan error, 1)}
	addr := serve(t, p, func(g *core.Goer) {
		g.MaxSendBufferSize = 128 << 10 // reading pauses at 64 KiB queued
		g.OnConnect = func(c core.Connection) { conns <- c.(*core.TCPConnection) }
		g.OnMessage = echo
		g.OnClose = func(c core.Connection) {
			_, reason := websocket.CloseStatus(c)
			fp.closed <- reason
		}
	})
	rc, resp := dialRaw(t, addr, "/")
	if resp.StatusCode != 101 {
		t.Fatalf("handshake: %d", resp.StatusCode)
	}
	fp.rawClient = rc
	rc.c.SetDeadline(time.Now().Add(30 * time.Second))
	// A small receive buffer: the echoes wait in the server, not in the
	// kernel's buffers.
	if err := rc.c.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	fp.sc = recv(t, conns, "OnConnect")
	msg := frame(true, 0x2, bytes.Repeat([]byte("m"), 16<<10), true)
	go func() { // ends early when the test closes the connection
		for range count {
			fp.wmu.Lock()
			_, err := rc.c.Write(msg)
			fp.wmu.Unlock()
			if err != nil {
				fp.flood <- err
				return
			}
		}
		fp.flood <- nil
	}()
	t.Cleanup(func() { rc.c.Close(); <-fp.flood })
	deadline := time.Now().Add(10 * time.Second)
	for !fp.sc.IsPaused() {
		if time.Now().After(deadline) {
			t.Fatal("the server never stopped reading the flooding peer")
		}
		time.Sleep(time.Millisecond)
	}
	return fp
}

// The heartbeat while the server has stopped reading a peer because it
// does not read its echoes: its pong waits unread behind the pause. A peer
// that stays paused for two intervals is closed as dead ("ping timeout"):
// a peer that does not read is dead for the heartbeat. One that reads
// within an interval, and so lets the server read its pongs, stays.
func TestHeartbeatWhilePaused(t *testing.T) {
	t.Run("peer that does not read is closed", func(t *testing.T) {
		const iv = 100 * time.Millisecond
		fp := newFloodingPeer(t, iv, 800) // 12.8 MiB, past every buffer
		paused := time.Now()
		if r := recv(t, fp.closed, "OnClose"); r != "ping timeout" {
			t.Fatalf("OnClose reason %q, want ping timeout", r)
		}
		// Two intervals and a tick, give or take a loaded machine.
		if d := time.Since(paused); d > 50*iv {
			t.Fatalf("closed %v after the pause", d)
		}
	})
	t.Run("peer that reads within an interval stays", func(t *testing.T) {
		const iv, count = 400 * time.Millisecond, 400
		fp := newFloodingPeer(t, iv, count)
		time.Sleep(iv / 4) // paused, not reading, for a quarter of an interval
		echoes := 0
		for {
			if echoes == count { // the flood is answered: a few more pings
				echoes++
				fp.c.SetReadDeadline(time.Now().Add(3 * iv))
			}
			_, op, p, err := fp.read()
			if ne, ok := err.(net.Error); ok && ne.Timeout() && echoes > count {
				break
			}
			if err != nil {
				t.Fatalf("after %d echoes: %v", echoes, err)
			}
			switch op {
			case 0x2:
				echoes++
			case 0x9:
				fp.wmu.Lock()
				fp.write(frame(true, 0xA, p, true))
				fp.wmu.Unlock()
			}
		}
		select {
		case r := <-fp.closed:
			t.Fatalf("a peer that reads was closed: %q", r)
		default:
		}
	})
}
