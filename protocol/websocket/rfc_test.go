package websocket_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	ghttp "github.com/shunhui19/goes/protocol/http"
	"github.com/shunhui19/goes/protocol/websocket"
)

// TestUpgradeMethodNotAllowed: an upgrade with another method than GET is
// answered 405 with "Allow: GET" (RFC 9110 §15.5.6), and the answer to
// HEAD has no body, on a WebSocket Goer and through Upgrade on an HTTP
// Goer.
func TestUpgradeMethodNotAllowed(t *testing.T) {
	wsp := websocket.New()
	servers := map[string]string{
		"WebSocket Goer": serve(t, websocket.New(), nil),
		"Upgrade from HTTP": serve(t, nil, func(g *core.Goer) {
			g.Protocol = ghttp.New()
			g.OnMessage = func(c core.Connection, _ []byte) {
				if err := wsp.Upgrade(c, ghttp.RequestOf(c)); err != nil && err != websocket.ErrNotUpgrade {
					return
				}
			}
		}),
	}
	for name, addr := range servers {
		for _, method := range []string{"POST", "HEAD", "PUT"} {
			t.Run(name+" "+method, func(t *testing.T) {
				c := dialPlain(t, addr)
				io.WriteString(c, method+" / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
					"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 0\r\n\r\n")
				raw, err := io.ReadAll(c) // the server closes after the answer
				if err != nil {
					t.Fatal(err)
				}
				head, body, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
				if !ok {
					t.Fatalf("no response head: %q", raw)
				}
				resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(append(head, "\r\n\r\n"...))), nil)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET" {
					t.Fatalf("status %d Allow %q, want 405 and GET", resp.StatusCode, resp.Header.Get("Allow"))
				}
				if method == "HEAD" && len(body) != 0 {
					t.Fatalf("HEAD answered with a body: %q", body)
				}
				if method != "HEAD" && len(body) == 0 {
					t.Fatal("no body")
				}
			})
		}
	}
}

// TestInvalidUTF8FailsFast: a text message is closed with 1007 as soon as
// the bytes received so far cannot start valid UTF-8 (RFC 6455 §8.1): in
// its first fragment, in a later one, or in the first part of a frame, with
// the rest never sent. A character split across fragments is fine.
func TestInvalidUTF8FailsFast(t *testing.T) {
	addr := serve(t, websocket.New(), func(g *core.Goer) { g.OnMessage = echo })
	long := []byte(strings.Repeat("x", 200)) // a frame the test sends only the start of
	tests := []struct {
		name   string
		frames [][]byte
	}{
		{"first fragment", [][]byte{frame(false, 0x1, []byte("ok\xff"), true)}},
		{"lone continuation byte", [][]byte{frame(false, 0x1, []byte("\x80"), true)}},
		{"overlong start", [][]byte{frame(false, 0x1, []byte("\xc0"), true)}},
		{"surrogate start", [][]byte{frame(false, 0x1, []byte("\xed\xa0"), true)}},
		{"past U+10FFFF", [][]byte{frame(false, 0x1, []byte("\xf4\x90"), true)}},
		{"split character, bad continuation", [][]byte{frame(false, 0x1, []byte("a\xc3"), true), frame(false, 0x0, []byte("\x28"), true)}},
		{"later fragment", [][]byte{frame(false, 0x1, []byte("fine"), true), frame(false, 0x0, []byte("\xfe"), true)}},
		{"start of a frame", [][]byte{func() []byte {
			f := frame(true, 0x1, append([]byte("\xff"), long...), true)
			return f[:len(f)-len(long)] // the header and the first byte only
		}()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, resp := dialRaw(t, addr, "/")
			if resp.StatusCode != 101 {
				t.Fatalf("handshake %d", resp.StatusCode)
			}
			rc.write(tt.frames...)
			rc.c.SetReadDeadline(time.Now().Add(3 * time.Second)) // no more frames come
			if code, _ := rc.expectClose(); code != websocket.CloseInvalidPayload {
				t.Fatalf("close %d, want %d", code, websocket.CloseInvalidPayload)
			}
		})
	}

	t.Run("characters split across fragments", func(t *testing.T) {
		rc, _ := dialRaw(t, addr, "/")
		want := "aé😀€b"
		rc.write(frame(false, 0x1, []byte("a\xc3"), true), frame(false, 0x0, []byte("\xa9\xf0\x9f"), true),
			frame(false, 0x0, []byte("\x98"), true), frame(false, 0x0, []byte("\x80\xe2\x82"), true), frame(true, 0x0, []byte("\xacb"), true))
		_, op, p, err := rc.read()
		if err != nil || op != 0x1 || string(p) != want {
			t.Fatalf("op %d %q %v, want text %q", op, p, err, want)
		}
	})
	t.Run("message ends inside a character", func(t *testing.T) {
		rc, _ := dialRaw(t, addr, "/")
		rc.write(frame(false, 0x1, []byte("a"), true), frame(true, 0x0, []byte("\xe2\x82"), true))
		if code, _ := rc.expectClose(); code != websocket.CloseInvalidPayload {
			t.Fatalf("close %d, want %d", code, websocket.CloseInvalidPayload)
		}
	})
}
