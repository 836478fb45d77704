//go:build unix

package tcp_test

import (
	"bufio"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// cpuTime is the process's user and system time so far.
func cpuTime(t *testing.T) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// assertIdle fails if the process burns more than a third of a core over
// the next 300 ms (an event loop spinning on a level-triggered event burns
// all of one).
func assertIdle(t *testing.T, what string) {
	t.Helper()
	const window = 300 * time.Millisecond
	before := cpuTime(t)
	time.Sleep(window)
	if used := cpuTime(t) - before; used > window/3 {
		t.Fatalf("%s: the process used %v of CPU in %v", what, used, window)
	}
}

// Both directions are shut (the peer half-closed, then the handler's Close
// shut ours) while the handler is still busy: the hang-up is reported
// level-triggered and must not spin the event loop until the handler
// returns.
func TestNoSpinOnHangUpWhileHandlerBusy(t *testing.T) {
	block := make(chan struct{})
	var release sync.Once
	closed := make(chan struct{})
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	g.OnMessage = func(c core.Connection, d []byte) {
		c.Close("bye")
		<-block
	}
	g.OnClose = func(core.Connection) { close(closed) }
	g.Logger = quietLogger()
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	defer release.Do(func() { close(block) }) // runs before Stop, on failure too
	c := dial(t, g.Addr().String())
	c.Write([]byte("hi\n"))
	c.(*net.TCPConn).CloseWrite()
	if got := readLine(t, bufio.NewReader(c)); got != "bye" {
		t.Fatalf("got %q", got)
	}
	time.Sleep(20 * time.Millisecond)
	assertIdle(t, "hung-up connection, busy handler")
	release.Do(func() { close(block) })
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("no OnClose")
	}
}

// A peer that floods a connection whose handler is blocked (so the engine
// stops reading), then resets it: neither the reset nor the unread bytes
// may spin the loop, and the connection ends once the handler returns.
func TestNoSpinOnResetWhileStalled(t *testing.T) {
	block := make(chan struct{})
	var release sync.Once
	closed := make(chan struct{})
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.OnMessage = func(c core.Connection, d []byte) { <-block }
	g.OnClose = func(core.Connection) { close(closed) }
	g.Logger = quietLogger()
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	defer release.Do(func() { close(block) }) // runs before Stop, on failure too
	c := dial(t, g.Addr().String())
	chunk := make([]byte, 64<<10)
	c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
	for i := 0; i < 256; i++ { // until the kernel buffers are full
		if _, err := c.Write(chunk); err != nil {
			break
		}
	}
	var read int64
	g.Connections.Range(func(_ int, c *core.TCPConnection) bool {
		read = c.BytesRead()
		return true
	})
	c.(*net.TCPConn).SetLinger(0)
	c.Close() // a reset, with bytes unread on both sides
	time.Sleep(20 * time.Millisecond)
	assertIdle(t, "reset while stalled")
	var after int64
	g.Connections.Range(func(_ int, c *core.TCPConnection) bool {
		after = c.BytesRead()
		return true
	})
	t.Logf("read %d KiB before the reset, %d KiB after", read>>10, after>>10)
	release.Do(func() { close(block) })
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("no OnClose")
	}
}
