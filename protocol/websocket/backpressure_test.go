package websocket_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/websocket"
)

// echoLate sends count binary messages of size bytes from a client that
// starts reading only once its writes are done, or after lateBy (a peer
// that reads nothing while TCP holds its writes back would wait forever,
// whatever the server), and expects every message back, in order.
func echoLate(t *testing.T, addr string, count, size int, lateBy time.Duration) {
	t.Helper()
	rc, resp := dialRaw(t, addr, "/")
	if resp.StatusCode != 101 {
		t.Fatalf("handshake: %d", resp.StatusCode)
	}
	rc.c.SetDeadline(time.Now().Add(30 * time.Second))
	// A small receive buffer: the echoes wait in the server, not in the
	// kernel's buffers (which grow to tens of MiB on loopback).
	if err := rc.c.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	msgs := make([][]byte, count)
	for i := range msgs {
		msgs[i] = bytes.Repeat([]byte{byte(i)}, size)
		copy(msgs[i], fmt.Sprintf("message %d", i))
	}
	wrote := make(chan error, 1)
	go func() {
		for _, m := range msgs {
			if _, err := rc.c.Write(frame(true, 0x2, m, true)); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	var werr error
	select {
	case werr = <-wrote:
		wrote <- werr
	case <-time.After(lateBy):
	}
	for i := range msgs {
		_, op, p, err := rc.read()
		if err != nil {
			t.Fatalf("echo %d of %d: %v", i, count, err)
		}
		if op != 0x2 || !bytes.Equal(p, msgs[i]) {
			t.Fatalf("echo %d: opcode %d, %d bytes %.20q", i, op, len(p), p)
		}
	}
	if err := <-wrote; err != nil {
		t.Fatalf("writing: %v", err)
	}
}

// A peer that sends 20 messages of 1 MiB and reads only afterwards gets
// all 20 back: the server stops reading while the echoes cannot be
// queued, rather than drop them.
func TestEchoBigMessagesReadLate(t *testing.T) {
	var refused atomic.Int64
	addr := serve(t, websocket.New(), func(g *core.Goer) {
		g.OnMessage = func(c core.Connection, data []byte) {
			if err := websocket.SendMessage(c, websocket.MessageTypeOf(c), data); err != nil {
				refused.Add(1)
			}
		}
	})
	echoLate(t, addr, 20, 1<<20, 2*time.Second)
	if n := refused.Load(); n != 0 {
		t.Fatalf("%d echoes refused", n)
	}
}

// Many small messages past a small send queue: nothing lost either.
func TestEchoManyMessagesReadLate(t *testing.T) {
	var refused atomic.Int64
	addr := serve(t, websocket.New(), func(g *core.Goer) {
		g.MaxSendBufferSize = 16 << 10
		g.OnMessage = func(c core.Connection, data []byte) {
			if err := websocket.SendMessage(c, websocket.MessageTypeOf(c), data); err != nil {
				refused.Add(1)
			}
		}
	})
	echoLate(t, addr, 20000, 300, time.Second)
	if n := refused.Load(); n != 0 {
		t.Fatalf("%d echoes refused", n)
	}
}

// stalledConns is how many peers the stalled-memory test holds.
const stalledConns = 8

// maxStalledHeap bounds the live heap one stalled echo connection may hold
// with 1 MiB messages and MaxSendBufferSize 1 MiB: the send queue (the
// queue passes the high-water mark with the first echo and stops the
// reading: one message, 1 MiB) plus the engine's read-ahead (64 KiB on
// the goroutine engine, at most 256 KiB and a read on the epoll engine)
// and the connection's small state. A server that reads on while its
// echoes are refused holds a full queue grown past its limit and the
// message being assembled: about 4 MiB.
const maxStalledHeap = 1<<20 + 768<<10

// A peer that sends big messages and never reads costs the server a
// bounded amount of memory, whatever it sends.
func TestStalledPeerMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 160 MiB over loopback")
	}
	if os.Getenv("GOES_WS_MEMPROFILE") != "" {
		old := runtime.MemProfileRate
		runtime.MemProfileRate = 1
		defer func() { runtime.MemProfileRate = old }()
	}
	var read atomic.Int64
	g := core.NewGoer("127.0.0.1:0", websocket.New(), "tcp")
	g.Logger = quietLogger()
	g.OnMessage = func(c core.Connection, data []byte) {
		read.Add(1)
		if err := websocket.SendMessage(c, websocket.MessageTypeOf(c), data); err != nil {
			c.Close("") // the echo cannot be sent: end the connection, lose nothing silently
		}
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	addr := g.Addr().String()

	msg := frame(true, 0x2, bytes.Repeat([]byte("m"), 1<<20), true)
	before := liveHeap()
	done := make(chan struct{})
	defer close(done)
	for range stalledConns {
		rc, resp := dialRaw(t, addr, "/")
		if resp.StatusCode != 101 {
			t.Fatalf("handshake: %d", resp.StatusCode)
		}
		rc.c.SetDeadline(time.Time{})
		go func() { // never reads; writes until the server stops taking bytes
			for i := 0; i < 20; i++ {
				if _, err := rc.c.Write(msg); err != nil {
					return
				}
			}
			<-done
		}()
	}
	// Wait until the server reads no more.
	last, still := int64(-1), 0
	for still < 10 {
		time.Sleep(50 * time.Millisecond)
		var n int64
		g.Connections.Range(func(_ int, c *core.TCPConnection) bool { n += c.BytesRead(); return true })
		if n == last {
			still++
		} else {
			last, still = n, 0
		}
	}
	after := liveHeap()
	per := float64(int64(after)-int64(before)) / stalledConns
	if os.Getenv("GOES_WS_MEMPROFILE") != "" {
		reportHeap(t, stalledConns)
	}
	t.Logf("live heap per stalled connection: %.0f KiB (%d messages read in all)", per/1024, read.Load())
	if per > maxStalledHeap {
		t.Fatalf("a stalled connection holds %.0f KiB, more than %d KiB", per/1024, maxStalledHeap>>10)
	}
	if got := g.Connections.Len(); got != stalledConns {
		t.Fatalf("%d connections open, want %d", got, stalledConns)
	}
}
