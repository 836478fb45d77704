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
