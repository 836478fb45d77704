package websocket_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/websocket"
)

// Control frames between fragments are answered at once; the message is
// delivered whole.
func TestControlBetweenFragments(t *testing.T) {
	got := make(chan string, 1)
	addr := serve(t, websocket.New(), func(g *core.Goer) {
		g.OnMessage = func(c core.Connection, data []byte) { got <- string(data) }
	})
	rc, _ := dialRaw(t, addr, "/")
	rc.write(frame(false, 0x1, []byte("Hel"), true),
		frame(true, 0x9, []byte("ping!"), true),
		frame(false, 0x0, []byte("lo, "), true),
		frame(true, 0xA, []byte("unsolicited pong"), true),
		frame(false, 0x0, nil, true),
		frame(true, 0x0, []byte("goer"), true))
	_, op, p, err := rc.read()
	if err != nil || op != 0xA || string(p) != "ping!" {
		t.Fatalf("got op %x %q %v, want pong \"ping!\"", op, p, err)
	}
	if m := recv(t, got, "message"); m != "Hello, goer" {
		t.Fatalf("message %q", m)
	}
	// byte by byte: every split point of a masked frame
	msg := frame(true, 0x2, bytes.Repeat([]byte{7}, 300), true)
	for _, b := range msg {
		rc.write([]byte{b})
	}
	if m := recv(t, got, "message"); m != string(bytes.Repeat([]byte{7}, 300)) {
		t.Fatalf("message of %d bytes", len(m))
	}
}

func TestInvalidFrames(t *testing.T) {
	errs := make(chan int, 1)
	addr := serve(t, websocket.New(), func(g *core.Goer) {
		g.MaxPackageSize = 1000
		g.OnError = func(c core.Connection, code int, msg string) {
			select {
			case errs <- code:
			default:
			}
		}
	})
	cases := []struct {
		name   string
		frames [][]byte
		code   int
	}{
		{"unmasked", [][]byte{frame(true, 0x1, []byte("hi"), false)}, 1002},
		{"invalid utf8", [][]byte{frame(true, 0x1, []byte{0xff, 0xfe}, true)}, 1007},
		{"utf8 split across fragments is fine, broken at end", [][]byte{frame(false, 0x1, []byte("é")[:1], true), frame(true, 0x0, nil, true)}, 1007},
		{"too big", [][]byte{frame(true, 0x2, make([]byte, 1001), true)}, 1009},
		{"too big in fragments", [][]byte{frame(false, 0x2, make([]byte, 600), true), frame(true, 0x0, make([]byte, 600), true)}, 1009},
		{"reserved opcode", [][]byte{frame(true, 0x3, nil, true)}, 1002},
		{"reserved control opcode", [][]byte{frame(true, 0xB, nil, true)}, 1002},
		{"rsv1 without deflate", [][]byte{append([]byte{0xC1}, frame(true, 0x1, []byte("x"), true)[1:]...)}, 1002},
		{"rsv2", [][]byte{append([]byte{0xA1}, frame(true, 0x1, []byte("x"), true)[1:]...)}, 1002},
		{"fragmented ping", [][]byte{frame(false, 0x9, nil, true)}, 1002},
		{"long ping", [][]byte{frame(true, 0x9, make([]byte, 126), true)}, 1002},
		{"stray continuation", [][]byte{frame(true, 0x0, []byte("x"), true)}, 1002},
		{"text inside fragments", [][]byte{frame(false, 0x1, []byte("a"), true), frame(true, 0x1, []byte("b"), true)}, 1002},
		{"close with one byte", [][]byte{frame(true, 0x8, []byte{3}, true)}, 1002},
		{"close with code 1005", [][]byte{frame(true, 0x8, closePayload(1005, ""), true)}, 1002},
		{"close with code 999", [][]byte{frame(true, 0x8, closePayload(999, ""), true)}, 1002},
		{"close with bad reason", [][]byte{frame(true, 0x8, closePayload(1000, "\xff"), true)}, 1007},
		{"non-minimal length", [][]byte{{0x81, 0x80 | 126, 0, 5, 1, 2, 3, 4, 'a', 'b', 'c', 'd', 'e'}}, 1002},
		{"length msb", [][]byte{{0x82, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}}, 1002},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc, _ := dialRaw(t, addr, "/")
			rc.write(tc.frames...)
			code, _ := rc.expectClose()
			if code != tc.code {
				t.Fatalf("close code %d, want %d", code, tc.code)
			}
			if tc.code >= 1002 && !strings.HasPrefix(tc.name, "close with") || tc.code == 1007 {
				want := core.ErrCodeProtocol
				if tc.code == 1009 {
					want = core.ErrCodePackageTooLarge
				}
				if got := recv(t, errs, "OnError"); got != want {
					t.Fatalf("OnError code %d, want %d", got, want)
				}
			}
			select {
			case <-errs:
			default:
			}
		})
	}
}

func TestHeartbeat(t *testing.T) {
	p := websocket.New()
	p.PingInterval = 100 * time.Millisecond
	closed := make(chan string, 2)
	addr := serve(t, p, func(g *core.Goer) {
		g.OnClose = func(c core.Connection) {
			_, reason := websocket.CloseStatus(c)
			closed <- reason
		}
	})
	t.Run("silent peer is closed", func(t *testing.T) {
		rc, _ := dialRaw(t, addr, "/")
		start := time.Now()
		_, op, _, err := rc.read()
		if err != nil || op != 0x9 {
			t.Fatalf("want a ping, got op %x %v", op, err)
		}
		if r := recv(t, closed, "OnClose"); r != "ping timeout" {
			t.Fatalf("OnClose reason %q", r)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("closed after %v", d)
		}
	})
	t.Run("answering peer stays", func(t *testing.T) {
		rc, _ := dialRaw(t, addr, "/")
		deadline := time.Now().Add(600 * time.Millisecond)
		pings := 0
		for time.Now().Before(deadline) {
			_, op, p, err := rc.read()
			if err != nil {
				t.Fatalf("read after %d pings: %v", pings, err)
			}
			if op == 0x9 {
				pings++
				rc.write(frame(true, 0xA, p, true))
			}
		}
		if pings < 3 {
			t.Fatalf("%d pings in 600ms", pings)
		}
		rc.write(frame(true, 0x8, closePayload(1000, ""), true))
		rc.expectClose()
		recv(t, closed, "OnClose")
	})
}
