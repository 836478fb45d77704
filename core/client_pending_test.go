package core

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPendingQueueFull: the queue of a connection that is still
// connecting keeps a connected queue's promises: reaching the limit fires
// OnBufferFull once (while connecting, not only once connected), a send
// beyond it is refused with OnError(ErrCodeSendFail), and once connected
// the queue is written and OnBufferDrain fires; the callbacks run one at a
// time, before OnConnect. When the connect fails instead, they still run,
// before its OnError and OnClose.
func TestPendingQueueFull(t *testing.T) {
	for _, connects := range []bool{true, false} {
		name := map[bool]string{true: "connects", false: "connect fails"}[connects]
		t.Run(name, func(t *testing.T) {
			gate := newGate(false)
			d := &gateDialer{release: make(chan struct{}), gate: gate, done: make(chan struct{})}
			scheme := "pending" + map[bool]string{true: "ok", false: "fail"}[connects]
			RegisterDialer(d, scheme)
			a := NewAsyncConnection(scheme+"://backend", nil)
			a.MaxSendBufferSize = 1000
			a.ConnectTimeout = time.Minute
			var mu sync.Mutex
			var events []string
			running := 0
			record := func(e string) {
				mu.Lock()
				running++
				if running > 1 {
					events = append(events, "OVERLAP")
				}
				events = append(events, e)
				mu.Unlock()
				time.Sleep(20 * time.Millisecond) // long enough for an overlap to show
				mu.Lock()
				running--
				mu.Unlock()
			}
			seen := func() string {
				mu.Lock()
				defer mu.Unlock()
				return strings.Join(events, " ")
			}
			a.OnBufferFull = func(Connection) { record("full") }
			a.OnBufferDrain = func(Connection) { record("drain") }
			a.OnConnect = func(Connection) { record("connect") }
			a.OnError = func(_ Connection, code int, _ string) { record("error" + ErrorName(code)) }
			closed := make(chan struct{})
			a.OnClose = func(Connection) { record("close"); close(closed) }
			a.Connect()
			for i, want := range []error{nil, nil, ErrSendBufferFull} {
				if err := a.Send(strings.Repeat("x", 600), false); !errors.Is(err, want) {
					t.Fatalf("send %d while connecting: %v, want %v", i, err, want)
				}
			}
			waitUntil(t, "OnBufferFull and OnError while connecting", func() bool { return seen() == "full errorsend_fail" })
			if st := a.State(); st != StateConnecting {
				t.Fatalf("state %s", st)
			}
			if connects {
				close(d.release)
				gate.grant(1200)
				waitUntil(t, "the connect and the drain", func() bool { return strings.Count(seen(), " ") >= 3 })
				if got, want := seen(), "full errorsend_fail connect drain"; got != want {
					t.Fatalf("callbacks %q, want %q", got, want)
				}
				if gate.written() != 1200 {
					t.Errorf("wrote %d bytes, want the 1200 queued", gate.written())
				}
				a.Destroy()
				gate.Close()
				close(d.done)
			} else {
				a.Send("beyond", false)
				a.Destroy() // the connect is abandoned
			}
			select {
			case <-closed:
			case <-time.After(10 * time.Second):
				t.Fatal("no OnClose")
			}
			want := "full errorsend_fail connect drain close"
			if !connects {
				want = "full errorsend_fail errorsend_fail close"
			}
			if got := seen(); got != want {
				t.Errorf("callbacks %q, want %q", got, want)
			}
		})
	}
}

// ctxProtocol is raw with a client context (ClientContexter): a fresh
// counter value per connect.
type ctxProtocol struct{ made int }

func (p *ctxProtocol) Input(_ Connection, b []byte) (int, error)     { return len(b), nil }
func (p *ctxProtocol) Decode(_ Connection, b []byte) ([]byte, error) { return b, nil }
func (p *ctxProtocol) Encode(_ Connection, dst, b []byte) ([]byte, error) {
	return append(dst, b...), nil
}
func (p *ctxProtocol) NewClientContext() any { p.made++; return p.made }

// TestClientContextWhileConnecting: while an AsyncConnection connects, its
// Context is what its protocol made for this connect (ClientContexter), or
// what SetContext set since; the connection starts with it. A failed
// connect's is gone with it.
func TestClientContextWhileConnecting(t *testing.T) {
	gate := newGate(false)
	d := &gateDialer{release: make(chan struct{}), gate: gate, done: make(chan struct{})}
	RegisterDialer(d, "ctxgate")
	p := &ctxProtocol{}
	a := NewAsyncConnection("ctxgate://backend", p)
	a.ConnectTimeout = 50 * time.Millisecond
	closed := make(chan struct{}, 2)
	a.OnClose = func(Connection) { closed <- struct{}{} }
	if v := a.Context(); v != nil {
		t.Fatalf("Context %v before the connect", v)
	}
	a.SetContext("ignored") // no connection, none being made
	a.Connect()
	if v := a.Context(); v != 1 {
		t.Fatalf("Context %v while connecting, want the protocol's 1", v)
	}
	a.SetContext("first")
	if v := a.Context(); v != "first" {
		t.Fatalf("Context %v after SetContext while connecting", v)
	}
	<-closed // ConnectTimeout
	if v := a.Context(); v != nil {
		t.Fatalf("Context %v after a failed connect", v)
	}
	a.ConnectTimeout = time.Minute
	a.Connect()
	defer func() {
		a.Destroy()
		gate.Close()
		close(d.done)
		<-closed
	}()
	// The connect waits for the last OnClose to return.
	waitUntil(t, "the protocol's 2 while connecting again", func() bool { return a.Context() == 2 })
	a.SetContext("second")
	close(d.release)
	waitUntil(t, "the connect", func() bool { return a.State() == StateOpen })
	if v, cv := a.Context(), a.Conn().Context(); v != "second" || cv != "second" {
		t.Fatalf("connected: Context %v, the connection's %v, want second", v, cv)
	}
}
