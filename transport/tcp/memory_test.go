package tcp_test

import (
	"encoding/binary"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// A connection that once assembled a big package keeps a buffer sized for
// what it holds now, not for the biggest package it ever saw: idle
// connections with a few bytes of a next package must not pin megabytes.
func TestReceiveBufferShrinks(t *testing.T) {
	const conns, size = 8, 2 << 20
	var delivered atomic.Int32
	g := core.NewGoer("127.0.0.1:0", frames{}, "tcp")
	g.MaxPackageSize = 2 * size
	g.OnMessage = func(core.Connection, []byte) { delivered.Add(1) }
	addr := start(t, g)
	frame := make([]byte, size)
	binary.BigEndian.PutUint32(frame, size)
	next := []byte{0, 0} // the first bytes of the next frame's header
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	for i := 0; i < conns; i++ {
		c := dial(t, addr)
		if _, err := c.Write(append(frame, next...)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the frames", func() bool { return int(delivered.Load()) == conns })
	waitFor(t, "the partial headers", func() bool {
		n := 0
		g.Connections.Range(func(_ int, c *core.TCPConnection) bool {
			n += c.RecvQueueSize()
			return true
		})
		return n == conns*len(next)
	})
	frame = nil
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if grew := int64(ms.HeapAlloc) - int64(before); grew > size {
		t.Fatalf("%d idle connections holding %d bytes each pin %d KiB", conns, len(next), grew>>10)
	}
}

// Guard: a handler that blocks while the peer floods: the server stops
// reading (TCP pushes back), then reads on once the handler returns, and
// every byte arrives.
func TestFloodWhileHandlerBlocks(t *testing.T) {
	const total = 16 << 20
	release := make(chan struct{})
	var got atomic.Int64
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.OnMessage = func(c core.Connection, d []byte) {
		if got.Add(int64(len(d))) == int64(len(d)) {
			<-release
		}
	}
	addr := start(t, g)
	c := dial(t, addr)
	sent := make(chan error, 1)
	go func() {
		_, err := io.Copy(c, io.LimitReader(zeros{}, total))
		sent <- err
	}()
	time.Sleep(300 * time.Millisecond)
	var read int64
	g.Connections.Range(func(_ int, c *core.TCPConnection) bool {
		read = c.BytesRead()
		return true
	})
	// What the engine reads ahead of a blocked handler is bounded (the
	// epoll engine's read-ahead buffer plus a read; the goroutine engine
	// reads nothing more).
	if read > 1<<20 {
		close(release)
		t.Fatalf("read %d KiB ahead of a blocked handler", read>>10)
	}
	close(release)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every byte", func() bool { return got.Load() == total })
}
