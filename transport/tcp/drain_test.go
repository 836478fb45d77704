package tcp_test

import (
	"bufio"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// A graceful stop tells every open connection, once, on its lane: a
// message being handled is finished and answered first, then
// OnGracefulStop runs, and a connection it closes lets the stop return
// without waiting for GracefulTimeout.
func TestGracefulStopTellsConnections(t *testing.T) {
	const conns = 4
	var (
		inCallback sync.Map // conn id -> callbacks running
		overlaps   atomic.Int32
		told       sync.Map // conn id -> times told
		draining   atomic.Int32
	)
	enter := func(c core.Connection) func() {
		v, _ := inCallback.LoadOrStore(c.GetID(), new(atomic.Int32))
		n := v.(*atomic.Int32)
		if n.Add(1) != 1 {
			overlaps.Add(1)
		}
		return func() { n.Add(-1) }
	}
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	g.GracefulTimeout = 20 * time.Second
	g.OnMessage = func(c core.Connection, data []byte) {
		defer enter(c)()
		if string(data) == "slow" {
			time.Sleep(300 * time.Millisecond)
		}
		c.Send("re "+string(data), false)
	}
	g.OnGracefulStop = func(c core.Connection) {
		defer enter(c)()
		if c.Goer().Draining() {
			draining.Add(1)
		}
		n, _ := told.LoadOrStore(c.GetID(), new(atomic.Int32))
		n.(*atomic.Int32).Add(1)
		c.Close("bye")
	}
	addr := start(t, g)
	var readers []*bufio.Reader
	var clients []net.Conn
	for i := range conns {
		c := dial(t, addr)
		clients = append(clients, c)
		r := bufio.NewReader(c)
		fmt.Fprintf(c, "hello %d\n", i)
		if got := readLine(t, r); got != fmt.Sprintf("re hello %d", i) {
			t.Fatalf("got %q", got)
		}
		readers = append(readers, r)
		if i == 0 {
			fmt.Fprintf(c, "slow\n") // in its handler when the stop begins
		}
	}
	time.Sleep(50 * time.Millisecond)
	begin := time.Now()
	stopped := make(chan time.Duration, 1)
	go func() { g.GracefulStop(); stopped <- time.Since(begin) }()
	if got := readLine(t, readers[0]); got != "re slow" {
		t.Fatalf("the message in progress: %q", got)
	}
	for i, r := range readers {
		if got := readLine(t, r); got != "bye" {
			t.Fatalf("conn %d: %q, want bye", i, got)
		}
		if _, err := r.ReadByte(); err == nil {
			t.Fatalf("conn %d still open", i)
		}
		clients[i].Close()
	}
	select {
	case d := <-stopped:
		if d > 3*time.Second {
			t.Fatalf("GracefulStop took %v although every connection was closed at once", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("GracefulStop did not return")
	}
	n := 0
	told.Range(func(_, v any) bool {
		n++
		if k := v.(*atomic.Int32).Load(); k != 1 {
			t.Errorf("OnGracefulStop ran %d times on one connection", k)
		}
		return true
	})
	if n != conns || draining.Load() != conns {
		t.Fatalf("OnGracefulStop ran on %d connections (%d saw Draining), want %d", n, draining.Load(), conns)
	}
	if overlaps.Load() != 0 {
		t.Fatalf("%d callbacks overlapped", overlaps.Load())
	}
	if g.Draining() {
		t.Fatal("Draining after the stop")
	}
}

// A connection that nobody closes is served on while the stop waits, and
// closed when GracefulTimeout (shortened here) has passed.
func TestGracefulTimeoutClosesTheRest(t *testing.T) {
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	g.OnMessage = func(c core.Connection, data []byte) { c.SendBytes(data, false) }
	addr := start(t, g)
	c := dial(t, addr)
	r := bufio.NewReader(c)
	fmt.Fprintf(c, "one\n")
	readLine(t, r)
	const grace = 400 * time.Millisecond
	stopped := make(chan time.Duration, 1)
	begin := time.Now()
	go func() { g.StopWithin(grace); stopped <- time.Since(begin) }()
	time.Sleep(100 * time.Millisecond)
	if !g.Draining() {
		t.Fatal("not draining during the graceful stop")
	}
	fmt.Fprintf(c, "two\n")
	if got := readLine(t, r); got != "two" {
		t.Fatalf("during the drain: %q", got)
	}
	expectCleanEOF(t, c, 10*time.Second)
	if d := time.Since(begin); d < grace {
		t.Fatalf("closed after %v, before the graceful timeout", d)
	}
	c.Close()
	select {
	case d := <-stopped:
		if d > grace+3*time.Second {
			t.Fatalf("stopped after %v", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stop did not end after its graceful timeout")
	}
}

// idleProto is lines with a Drainer that calls every connection idle.
type idleProto struct {
	lines
	calls atomic.Int32
}

func (p *idleProto) OnConnDrain(core.Connection) bool {
	p.calls.Add(1)
	return true
}

// An idle connection (as its protocol says) is closed once it has received
// nothing for DrainQuiet: at once when it was quiet already, later when it
// was active a moment ago, and a message that arrives meanwhile is still
// answered.
func TestDrainClosesIdleWhenQuiet(t *testing.T) {
	p := &idleProto{}
	g := core.NewGoer("127.0.0.1:0", p, "tcp")
	g.OnMessage = func(c core.Connection, data []byte) { c.SendBytes(data, false) }
	addr := start(t, g)

	quiet := dial(t, addr)
	qr := bufio.NewReader(quiet)
	fmt.Fprintf(quiet, "q\n")
	readLine(t, qr)
	time.Sleep(core.DrainQuiet + 100*time.Millisecond)

	busy := dial(t, addr)
	br := bufio.NewReader(busy)
	fmt.Fprintf(busy, "b1\n")
	readLine(t, br)

	stopped := make(chan struct{})
	begin := time.Now()
	go func() { g.StopWithin(20 * time.Second); close(stopped) }()

	// The quiet one goes at once.
	quiet.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := qr.ReadByte(); err == nil {
		t.Fatal("quiet connection got data")
	}
	if d := time.Since(begin); d > core.DrainQuiet {
		t.Errorf("the quiet connection was closed after %v", d)
	}
	quiet.Close()
	// The active one may still send: answered.
	time.Sleep(core.DrainQuiet / 2)
	fmt.Fprintf(busy, "b2\n")
	sent := time.Now()
	if got := readLine(t, br); got != "b2" {
		t.Fatalf("message sent during the drain: %q", got)
	}
	busy.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("busy connection got more data")
	}
	if d := time.Since(sent); d < core.DrainQuiet-20*time.Millisecond {
		t.Errorf("closed %v after its last message, before DrainQuiet", d)
	}
	busy.Close()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the stop did not end once both connections closed")
	}
	if p.calls.Load() < 3 {
		t.Errorf("OnConnDrain ran %d times; want a second look at the active connection", p.calls.Load())
	}
}
