package main

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer serves the echo loop on 127.0.0.1 for the duration of a test.
func echoServer(t *testing.T) string {
	t.Helper()
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	stop, err := netEcho(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return addr
}

func TestRunLoop(t *testing.T) {
	addr := echoServer(t)
	d := &dialer{timeout: 2 * time.Second}
	conns, err := dialMany(context.Background(), 4, 2, 1, func(ctx context.Context) (exchanger, error) {
		c, err := d.dial(ctx, addr)
		if err != nil {
			return nil, err
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		return newEchoConn(c, 100), nil
	})
	if err != nil || len(conns) != 4 {
		t.Fatalf("dialMany: %d conns, %v", len(conns), err)
	}
	defer closeAll(conns)
	var began, ended atomic.Bool
	r := runLoop(conns, window{warmup: 50 * time.Millisecond, duration: 200 * time.Millisecond,
		begin: func() { began.Store(true) }, end: func() { ended.Store(true) }})
	if !began.Load() || !ended.Load() {
		t.Error("window edges not called")
	}
	if r.msgs == 0 || r.lat.n != r.msgs || r.errors != 0 {
		t.Fatalf("msgs %d, latencies %d, errors %d (%v)", r.msgs, r.lat.n, r.errors, r.firstErr)
	}
	if r.elapsed < 200*time.Millisecond || r.elapsed > 2*time.Second {
		t.Errorf("window of %v", r.elapsed)
	}
	if p := r.lat.quantile(0.5); p <= 0 || p > time.Second {
		t.Errorf("p50 = %v", p)
	}
}

func TestRunLoopReportsFailures(t *testing.T) {
	addr := echoServer(t)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ec := newEchoConn(c.(*net.TCPConn), 8)
	ec.Close() // every exchange fails at once
	r := runLoop([]exchanger{ec}, window{duration: 20 * time.Millisecond})
	if r.errors != 1 || r.firstErr == nil || r.msgs != 0 {
		t.Errorf("errors %d (%v), msgs %d", r.errors, r.firstErr, r.msgs)
	}
}

func TestDialManyStopsAfterFailures(t *testing.T) {
	var calls atomic.Int32
	boom := errors.New("boom")
	conns, err := dialMany(context.Background(), 1000, 4, 5, func(ctx context.Context) (net.Conn, error) {
		calls.Add(1)
		return nil, boom
	})
	if len(conns) != 0 || !errors.Is(err, boom) {
		t.Fatalf("%d conns, %v", len(conns), err)
	}
	if n := calls.Load(); n < 5 || n > 5+3 {
		t.Errorf("%d dials after 5 allowed failures with 3 more in flight", n)
	}
}

func TestIdleOpen(t *testing.T) {
	addr := echoServer(t)
	// Source addresses other than 127.0.0.1 are for the real runs; the
	// tests keep to 127.0.0.1.
	d := &dialer{timeout: 2 * time.Second}
	c, err := idleOpen(context.Background(), d, kindTCP, addr)
	if err != nil {
		t.Fatal(err)
	}
	closeAll([]net.Conn{c})
	if _, err := idleOpen(context.Background(), d, "smtp", addr); err == nil || !strings.Contains(err.Error(), "unknown kind") {
		t.Errorf("unknown kind: %v", err)
	}
	// An HTTP exchange against the echo server reads its own request back:
	// not a response.
	if c, err := idleOpen(context.Background(), d, kindHTTP, addr); err == nil {
		c.Close()
		t.Error("echoed request taken for a response")
	}
}

// slowExchanger takes d for every round trip.
type slowExchanger struct {
	net.Conn
	d time.Duration
}

func (s slowExchanger) exchange() error { time.Sleep(s.d); return nil }

// A window shorter than a round trip goes on until one completes, and
// says so; a window that saw round trips is not stretched.
func TestRunLoopStretchesAnEmptyWindow(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	r := runLoop([]exchanger{slowExchanger{a, 150 * time.Millisecond}}, window{duration: 20 * time.Millisecond})
	if r.msgs == 0 || r.stretched <= 0 || r.elapsed < 150*time.Millisecond {
		t.Errorf("msgs %d, stretched %v, window %v; want a round trip in a window stretched past 150 ms", r.msgs, r.stretched, r.elapsed)
	}
	r = runLoop([]exchanger{slowExchanger{a, time.Millisecond}}, window{duration: 50 * time.Millisecond})
	if r.msgs == 0 || r.stretched != 0 {
		t.Errorf("msgs %d, stretched %v; want round trips and no stretch", r.msgs, r.stretched)
	}
}
