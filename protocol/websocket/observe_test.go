package websocket_test

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/websocket"
)

// frameRecorder is an Observer that keeps what it is told.
type frameRecorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *frameRecorder) ObserveFrame(c core.Connection, sent bool, kind string) {
	dir := "in"
	if sent {
		dir = "out"
	}
	r.add(dir + " " + kind)
}

func (r *frameRecorder) ObserveClose(c core.Connection, code int) { r.add(fmt.Sprint("closed ", code)) }

func (r *frameRecorder) add(s string) {
	r.mu.Lock()
	r.seen = append(r.seen, s)
	r.mu.Unlock()
}

func (r *frameRecorder) list() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := append([]string(nil), r.seen...)
	sort.Strings(s)
	return strings.Join(s, ",")
}

// The Observer hears of every message and control frame each way, a
// fragmented message once, and of each connection's close code.
func TestObserver(t *testing.T) {
	rec := &frameRecorder{}
	p := websocket.New()
	p.Observer = rec
	addr := serve(t, p, func(g *core.Goer) { g.OnMessage = echo })

	rc, _ := dialRaw(t, addr, "/")
	rc.write(frame(true, 0x1, []byte("hi"), true))
	if _, op, got, err := rc.read(); err != nil || op != 0x1 || string(got) != "hi" {
		t.Fatalf("echo: op %d %q %v", op, got, err)
	}
	rc.write(frame(false, 0x2, []byte("a"), true), frame(true, 0x0, []byte("b"), true))
	if _, op, got, err := rc.read(); err != nil || op != 0x2 || string(got) != "ab" {
		t.Fatalf("echo: op %d %q %v", op, got, err)
	}
	rc.write(frame(true, 0x9, []byte("p"), true))
	if _, op, _, err := rc.read(); err != nil || op != 0xA {
		t.Fatalf("pong: op %d %v", op, err)
	}
	rc.write(frame(true, 0x8, closePayload(4001, "bye"), true))
	if code, _ := rc.expectClose(); code != 4001 {
		t.Fatalf("close echo %d", code)
	}

	rc2, _ := dialRaw(t, addr, "/")
	rc2.c.Close() // vanishes: 1006

	want := "closed 1006,closed 4001,in binary,in close,in ping,in text,out binary,out close,out pong,out text"
	waitFor(t, "the observations", func() bool { return rec.list() == want })
}
