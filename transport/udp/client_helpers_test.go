package udp_test

import (
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// events records an AsyncUdpConnection's callbacks and fails the test
// when two of them overlap.
type events struct {
	t        *testing.T
	in       atomic.Int32
	mu       sync.Mutex
	connects int
	closes   int
	msgs     []string
	codes    []int
	errs     []string
	afterEnd int // callbacks after OnClose, before another OnConnect
	msg      chan string
	closed   chan struct{}
	errc     chan int
}

func watchUDP(t *testing.T, a *core.AsyncUdpConnection) *events {
	ev := &events{t: t, msg: make(chan string, 4096), closed: make(chan struct{}, 1024), errc: make(chan int, 4096)}
	a.Logger = quiet()
	a.OnConnect = func(core.Connection) {
		defer ev.enter()()
		ev.mu.Lock()
		ev.connects++
		ev.mu.Unlock()
	}
	a.OnMessage = func(_ core.Connection, d []byte) {
		defer ev.enter()()
		ev.mu.Lock()
		ev.msgs = append(ev.msgs, string(d))
		ev.checkOpenLocked()
		ev.mu.Unlock()
		select {
		case ev.msg <- string(d):
		default: // a test that does not read them: never block the lane
		}
	}
	a.OnError = func(_ core.Connection, code int, msg string) {
		defer ev.enter()()
		ev.mu.Lock()
		ev.codes = append(ev.codes, code)
		ev.errs = append(ev.errs, msg)
		ev.mu.Unlock()
		select {
		case ev.errc <- code:
		default:
		}
	}
	a.OnClose = func(core.Connection) {
		defer ev.enter()()
		ev.mu.Lock()
		ev.closes++
		ev.mu.Unlock()
		select {
		case ev.closed <- struct{}{}:
		default:
		}
	}
	return ev
}

// enter marks a callback as running; two at once fail the test.
func (ev *events) enter() func() {
	if ev.in.Add(1) != 1 {
		ev.t.Error("two callbacks of one connection ran at once")
	}
	time.Sleep(50 * time.Microsecond) // widen the window an overlap would need
	return func() { ev.in.Add(-1) }
}

func (ev *events) checkOpenLocked() {
	if ev.closes >= ev.connects {
		ev.afterEnd++
	}
}

func (ev *events) waitMsg(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-ev.msg:
		if got != want {
			t.Fatalf("message %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no message %q within 5 s", want)
	}
}

func (ev *events) waitErr(t *testing.T, code int) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case got := <-ev.errc:
			if got == code {
				return
			}
		case <-deadline:
			t.Fatalf("no OnError with code %d within 5 s (%v)", code, ev.errList())
		}
	}
}

func (ev *events) waitClose(t *testing.T) {
	t.Helper()
	select {
	case <-ev.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose did not run within 5 s")
	}
}

func (ev *events) errList() []string {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return append([]string(nil), ev.errs...)
}

func (ev *events) counts() (connects, closes, afterEnd int) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.connects, ev.closes, ev.afterEnd
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// loopbacks are the loopback addresses to test on: 127.0.0.1, and [::1]
// when this host has it.
func loopbacks(t *testing.T) []string {
	hosts := []string{"127.0.0.1"}
	if pc, err := net.ListenPacket("udp6", "[::1]:0"); err == nil {
		pc.Close()
		hosts = append(hosts, "[::1]")
	} else {
		t.Logf("no [::1]: %v", err)
	}
	return hosts
}

// each runs f on every loopback address.
func each(t *testing.T, f func(t *testing.T, host string)) {
	for _, h := range loopbacks(t) {
		t.Run(h, func(t *testing.T) { f(t, h) })
	}
}

func echoServer(t *testing.T, host string, p core.Protocol) string {
	g := core.NewGoer(host+":0", p, "udp")
	g.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(d, false) }
	return start(t, g)
}

// connect starts a and waits for OnConnect; the test closes it at the end.
func connect(t *testing.T, a *core.AsyncUdpConnection) {
	t.Helper()
	a.Connect()
	t.Cleanup(a.Destroy)
	for deadline := time.Now().Add(5 * time.Second); a.State() != core.StateOpen; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not open within 5 s: %s", a.State())
		}
	}
}

// peer is a plain UDP socket on loopback.
func peer(t *testing.T, network, addr string) net.PacketConn {
	t.Helper()
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc
}

func readFrom(t *testing.T, pc net.PacketConn) (string, net.Addr) {
	t.Helper()
	buf := make([]byte, 1<<16)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, from, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n]), from
}
