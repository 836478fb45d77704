//go:build !plan9

package core

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakePacket is a datagram socket whose kernel buffer the test fills and
// empties: TryWrite reports a full buffer and Write waits while full is
// set, until the write deadline.
type fakePacket struct {
	full    atomic.Bool
	refuse  atomic.Int32 // the next writes fail with ECONNREFUSED
	mu      sync.Mutex
	sent    []string
	change  chan struct{} // closed and replaced when full, closed or the deadline changes
	closed  bool
	dl      time.Time
	dlTimer *time.Timer
}

func newFakePacket() *fakePacket { return &fakePacket{change: make(chan struct{})} }

func (f *fakePacket) notifyLocked() {
	close(f.change)
	f.change = make(chan struct{})
}

func (f *fakePacket) setFull(v bool) {
	f.full.Store(v)
	f.mu.Lock()
	f.notifyLocked()
	f.mu.Unlock()
}

func (f *fakePacket) take(b []byte) (int, error) {
	if f.refuse.Load() > 0 {
		f.refuse.Add(-1)
		return 0, &net.OpError{Op: "write", Net: "udp", Err: syscall.ECONNREFUSED}
	}
	f.sent = append(f.sent, string(b))
	return len(b), nil
}

func (f *fakePacket) TryWrite(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, net.ErrClosed
	}
	if f.full.Load() {
		return 0, nil
	}
	return f.take(b)
}

func (f *fakePacket) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		switch {
		case f.closed:
			return 0, net.ErrClosed
		case !f.dl.IsZero() && !time.Now().Before(f.dl):
			return 0, os.ErrDeadlineExceeded
		case !f.full.Load():
			return f.take(b)
		}
		ch := f.change
		f.mu.Unlock()
		<-ch
		f.mu.Lock()
	}
}

func (f *fakePacket) Read(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for !f.closed {
		ch := f.change
		f.mu.Unlock()
		<-ch
		f.mu.Lock()
	}
	return 0, net.ErrClosed
}

func (f *fakePacket) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		if f.dlTimer != nil {
			f.dlTimer.Stop()
		}
		f.notifyLocked()
	}
	return nil
}

func (f *fakePacket) SetWriteDeadline(t time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dl = t
	if f.dlTimer != nil {
		f.dlTimer.Stop()
	}
	f.dlTimer = time.AfterFunc(time.Until(t), func() {
		f.mu.Lock()
		f.notifyLocked()
		f.mu.Unlock()
	})
	return nil
}

func (f *fakePacket) SetDeadline(t time.Time) error   { return f.SetWriteDeadline(t) }
func (f *fakePacket) SetReadDeadline(time.Time) error { return nil }
func (f *fakePacket) LocalAddr() net.Addr             { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (f *fakePacket) RemoteAddr() net.Addr            { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2} }
func (f *fakePacket) datagrams() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.sent...)
}
func (f *fakePacket) isClosed() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.closed }

// fakeDialer hands out one fakePacket.
type fakeDialer struct{ sock *fakePacket }

func (d fakeDialer) DialPacket(context.Context, string, string) (net.Conn, error) {
	return d.sock, nil
}

// fakeClient returns a client connected to a fakePacket, with its events
// counted.
type fakeEvents struct {
	mu     sync.Mutex
	full   int
	drain  int
	codes  []int
	msgs   []string
	closed chan struct{}
}

func (ev *fakeEvents) get() (full, drain int, codes []int) {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return ev.full, ev.drain, append([]int(nil), ev.codes...)
}

func fakeClient(t *testing.T, maxSend int) (*AsyncUdpConnection, *fakePacket, *fakeEvents) {
	t.Helper()
	sock := newFakePacket()
	scheme := "fake" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", ""))
	RegisterPacketDialer(fakeDialer{sock}, scheme)
	a := NewAsyncUdpConnection(scheme+"://peer", nil)
	a.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	a.MaxSendBufferSize = maxSend
	ev := &fakeEvents{closed: make(chan struct{}, 4)}
	connected := make(chan struct{})
	a.OnConnect = func(Connection) { close(connected) }
	a.OnBufferFull = func(Connection) { ev.mu.Lock(); ev.full++; ev.mu.Unlock() }
	a.OnBufferDrain = func(Connection) { ev.mu.Lock(); ev.drain++; ev.mu.Unlock() }
	a.OnError = func(_ Connection, code int, _ string) {
		ev.mu.Lock()
		ev.codes = append(ev.codes, code)
		ev.mu.Unlock()
	}
	a.OnClose = func(Connection) { ev.closed <- struct{}{} }
	a.Connect()
	select {
	case <-connected:
	case <-time.After(5 * time.Second):
		t.Fatal("not connected")
	}
	t.Cleanup(func() {
		a.Destroy()
		waitUntil(t, "the socket closes", sock.isClosed)
	})
	return a, sock, ev
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

func (ev *fakeEvents) waitClose(t *testing.T) {
	t.Helper()
	select {
	case <-ev.closed:
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose did not run")
	}
}

// A kernel buffer that takes nothing: sends queue (without blocking) up to
// MaxSendBufferSize, OnBufferFull fires once, further sends are refused
// and reported; once the kernel takes writes again the queue goes out in
// order and OnBufferDrain fires.
func TestUdpClientQueueFullAndDrain(t *testing.T) {
	a, sock, ev := fakeClient(t, 100)
	sock.setFull(true)
	begin := time.Now()
	var accepted []string
	for i := range 10 {
		d := strings.Repeat(string(rune('a'+i)), 20)
		err := a.Send(d, false)
		switch {
		case err == nil:
			accepted = append(accepted, d)
		case !errors.Is(err, ErrSendBufferFull):
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if time.Since(begin) > time.Second {
		t.Fatalf("sends took %v against a full buffer", time.Since(begin))
	}
	if len(accepted) != 5 || a.SendQueueSize() != 100 {
		t.Fatalf("accepted %d, queued %d", len(accepted), a.SendQueueSize())
	}
	waitUntil(t, "OnBufferFull and 5 refusals", func() bool {
		full, _, codes := ev.get()
		return full == 1 && len(codes) == 5
	})
	sock.setFull(false)
	waitUntil(t, "OnBufferDrain", func() bool { _, drain, _ := ev.get(); return drain == 1 })
	if got := sock.datagrams(); strings.Join(got, ",") != strings.Join(accepted, ",") {
		t.Fatalf("sent %q, want %q", got, accepted)
	}
	if a.SendQueueSize() != 0 {
		t.Fatalf("queued %d", a.SendQueueSize())
	}
	if err := a.Send("direct", false); err != nil {
		t.Fatal(err)
	}
	if got := sock.datagrams(); got[len(got)-1] != "direct" {
		t.Fatalf("last datagram %q", got[len(got)-1])
	}
	if full, drain, _ := ev.get(); full != 1 || drain != 1 {
		t.Fatalf("full %d drain %d", full, drain)
	}
	st := a.Stats()
	if st.Sent.Load() != 6 || st.SendFailures.Load() != 5 || st.BufferFull.Load() != 1 {
		t.Fatalf("sent %d failures %d full %d", st.Sent.Load(), st.SendFailures.Load(), st.BufferFull.Load())
	}
}

// Close waits for the queue (and its own data) to be written, then closes.
func TestUdpClientCloseFlushesQueue(t *testing.T) {
	a, sock, ev := fakeClient(t, 0)
	sock.setFull(true)
	for _, d := range []string{"1", "2", "3"} {
		if err := a.Send(d, false); err != nil {
			t.Fatal(err)
		}
	}
	a.Close("bye")
	if err := a.Send("late", false); !errors.Is(err, ErrClosed) {
		t.Fatalf("send while closing: %v", err)
	}
	if a.State() != StateClosing || sock.isClosed() {
		t.Fatalf("state %s closed %v with a queue", a.State(), sock.isClosed())
	}
	sock.setFull(false)
	ev.waitClose(t)
	if got := strings.Join(sock.datagrams(), ","); got != "1,2,3,bye" {
		t.Fatalf("sent %q", got)
	}
}

// A kernel that never takes the queue: Close ends at CloseTimeout anyway,
// dropping what is left.
func TestUdpClientCloseTimeout(t *testing.T) {
	a, sock, ev := fakeClient(t, 0)
	a.CloseTimeout = 100 * time.Millisecond
	sock.setFull(true)
	a.Send("stuck", false)
	a.Send("behind", false)
	begin := time.Now()
	a.Close("")
	ev.waitClose(t)
	if d := time.Since(begin); d < 90*time.Millisecond || d > 3*time.Second {
		t.Fatalf("closed after %v, CloseTimeout 100ms", d)
	}
	if len(sock.datagrams()) != 0 {
		t.Fatalf("sent %q", sock.datagrams())
	}
}

// Destroy drops the queue and closes at once.
func TestUdpClientDestroy(t *testing.T) {
	a, sock, ev := fakeClient(t, 0)
	sock.setFull(true)
	a.Send("dropped", false)
	a.Destroy()
	ev.waitClose(t)
	if !sock.isClosed() || len(sock.datagrams()) != 0 || a.SendQueueSize() != 0 {
		t.Fatalf("closed %v sent %q queued %d", sock.isClosed(), sock.datagrams(), a.SendQueueSize())
	}
}

// A send that meets the kernel's news of an earlier refusal reports it and
// goes out: on the direct path and through the queue.
func TestUdpClientRefusalOnSend(t *testing.T) {
	a, sock, ev := fakeClient(t, 0)
	sock.refuse.Store(1)
	if err := a.Send("direct", false); err != nil {
		t.Fatal(err)
	}
	sock.setFull(true)
	a.Send("queued", false)
	sock.refuse.Store(1)
	sock.setFull(false)
	waitUntil(t, "both sent", func() bool { return len(sock.datagrams()) == 2 })
	waitUntil(t, "two refusals reported", func() bool {
		_, _, codes := ev.get()
		return len(codes) == 2 && codes[0] == ErrCodeConnectFail && codes[1] == ErrCodeConnectFail
	})
	if got := strings.Join(sock.datagrams(), ","); got != "direct,queued" {
		t.Fatalf("sent %q", got)
	}
}

// stuckDialer never makes a socket: it waits for its context.
type stuckDialer struct{}

func (stuckDialer) DialPacket(ctx context.Context, _, _ string) (net.Conn, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func stuckClient(t *testing.T) (*AsyncUdpConnection, chan int, chan string) {
	scheme := "stuck" + strings.ToLower(t.Name())
	RegisterPacketDialer(stuckDialer{}, scheme)
	a := NewAsyncUdpConnection(scheme+"://peer", nil)
	a.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	codes, closes := make(chan int, 8), make(chan string, 8)
	a.OnError = func(_ Connection, code int, msg string) { codes <- code; closes <- "error: " + msg }
	a.OnBufferFull = func(Connection) { closes <- "full" }
	a.OnClose = func(Connection) { closes <- "close" }
	return a, codes, closes
}

// A socket that is not made within ConnectTimeout: ErrConnectTimeout,
// then OnClose; what was queued meanwhile is dropped, bounded by
// MaxSendBufferSize.
func TestUdpClientConnectTimeoutAndQueueLimit(t *testing.T) {
	a, codes, closes := stuckClient(t)
	a.ConnectTimeout = 100 * time.Millisecond
	a.MaxSendBufferSize = 100
	begin := time.Now()
	a.Connect()
	if a.State() != StateConnecting {
		t.Fatalf("state %s", a.State())
	}
	for i, want := range []error{nil, nil, ErrSendBufferFull} {
		if err := a.Send(strings.Repeat("x", 50), false); !errors.Is(err, want) {
			t.Fatalf("send %d: %v, want %v", i, err, want)
		}
	}
	if a.SendQueueSize() != 100 {
		t.Fatalf("queued %d", a.SendQueueSize())
	}
	// As for a connected queue: OnBufferFull at the limit, OnError for
	// the send refused beyond it.
	if ev := <-closes; ev != "full" {
		t.Fatalf("first %q", ev)
	}
	if ev := <-closes; !strings.Contains(ev, ErrSendBufferFull.Error()) || <-codes != ErrCodeSendFail {
		t.Fatalf("then %q", ev)
	}
	if code := <-codes; code != ErrCodeConnectFail {
		t.Fatalf("code %d", code)
	}
	if msg := <-closes; !strings.Contains(msg, ErrConnectTimeout.Error()) {
		t.Fatalf("OnError %q", msg)
	}
	if ev := <-closes; ev != "close" {
		t.Fatalf("then %q", ev)
	}
	if d := time.Since(begin); d < 90*time.Millisecond || d > 3*time.Second {
		t.Fatalf("reported after %v, ConnectTimeout 100ms", d)
	}
	if a.State() != StateClosed || a.SendQueueSize() != 0 {
		t.Fatalf("state %s queued %d", a.State(), a.SendQueueSize())
	}
}

// Destroy abandons a connect under way: OnClose, without an error.
func TestUdpClientDestroyWhileConnecting(t *testing.T) {
	a, codes, closes := stuckClient(t)
	a.Connect()
	a.Send("dropped", false)
	a.Destroy()
	select {
	case ev := <-closes:
		if ev != "close" {
			t.Fatalf("got %q", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose did not run")
	}
	if len(codes) != 0 || a.State() != StateClosed {
		t.Fatalf("errors %d state %s", len(codes), a.State())
	}
}

// The queue that waited for the socket reached its limit: OnBufferFull
// fired while connecting, and OnBufferDrain follows OnConnect once it is
// written.
func TestUdpClientPendingFullThenDrain(t *testing.T) {
	sock := newFakePacket()
	gate := make(chan struct{})
	scheme := "gated" + strings.ToLower(t.Name())
	RegisterPacketDialer(gatedDialer{sock, gate}, scheme)
	a := NewAsyncUdpConnection(scheme+"://peer", nil)
	a.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	a.MaxSendBufferSize = 10
	var mu sync.Mutex
	var log []string
	add := func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() }
	a.OnConnect = func(Connection) { add("connect") }
	a.OnBufferFull = func(Connection) { add("full") }
	a.OnBufferDrain = func(Connection) { add("drain") }
	a.OnClose = func(Connection) { add("close") }
	a.Connect()
	t.Cleanup(func() { a.Destroy(); waitUntil(t, "the socket closes", sock.isClosed) })
	for _, d := range []string{"12345", "67890"} {
		if err := a.Send(d, false); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "OnBufferFull while connecting", func() bool { mu.Lock(); defer mu.Unlock(); return len(log) == 1 })
	close(gate)
	waitUntil(t, "OnConnect and OnBufferDrain", func() bool { mu.Lock(); defer mu.Unlock(); return len(log) == 3 })
	mu.Lock()
	got := strings.Join(log, ",")
	mu.Unlock()
	if got != "full,connect,drain" {
		t.Fatalf("callbacks %s", got)
	}
	if d := strings.Join(sock.datagrams(), ","); d != "12345,67890" {
		t.Fatalf("sent %q", d)
	}
}

// gatedDialer makes its socket once gate is closed.
type gatedDialer struct {
	sock *fakePacket
	gate chan struct{}
}

func (d gatedDialer) DialPacket(ctx context.Context, _, _ string) (net.Conn, error) {
	select {
	case <-d.gate:
		return d.sock, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
