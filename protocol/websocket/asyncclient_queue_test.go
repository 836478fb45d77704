package websocket_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/websocket"
)

// inflate undoes permessage-deflate on one message.
func inflate(t *testing.T, p []byte) []byte {
	t.Helper()
	b, err := io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff}))))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("inflate: %v", err)
	}
	return b
}

// Everything a client sends before the server answered (Send, SendText,
// SendBinary, Ping, SetSendType) waits for the answer, in order, and is
// framed once the handshake settled permessage-deflate: the long messages
// go compressed when the server accepted it, and none does when it
// did not (a frame built before the answer could not know).
func TestAsyncClientQueuesUntilAnswered(t *testing.T) {
	long := bytes.Repeat([]byte("compress me "), 400)
	for _, deflate := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "deflate"}[deflate], func(t *testing.T) {
			answer := make(chan struct{})
			type frameIn struct {
				op   byte
				rsv1 bool
				data string
			}
			got := make(chan []frameIn, 1)
			addr := rawServer(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
				<-answer
				// Nothing may come before the server's answer.
				c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
				if b, err := br.ReadByte(); !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Errorf("before the answer: read %q, %v", b, err)
				}
				c.SetDeadline(time.Now().Add(20 * time.Second))
				ext := ""
				if deflate {
					ext = "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n"
				}
				c.Write([]byte(accept101(req, ext)))
				var frames []frameIn
				for range 5 {
					op, rsv1, p := readClientFrameRSV(t, br)
					if rsv1 {
						p = inflate(t, p)
					}
					frames = append(frames, frameIn{op, rsv1, string(p)})
				}
				got <- frames
				c.Write(serverFrame(8, closePayload(1000, "")))
				io.Copy(io.Discard, br)
			})
			p := websocket.New()
			p.Compression = true
			c, ev := dialer("ws://"+addr+"/", p)
			c.Connect()
			defer c.Destroy()
			for i, err := range []error{
				c.Send("a", false),
				websocket.SendBinary(c, long),
				websocket.Ping(c, []byte("p")),
				websocket.SetSendType(c, websocket.BinaryMessage),
				c.SendBytes(long[:2000], false),
				websocket.SendText(c, "t"),
			} {
				if err != nil {
					t.Fatalf("send %d before the answer: %v", i, err)
				}
			}
			if s := c.State(); s != core.StateConnecting {
				t.Fatalf("State %s before the answer", s)
			}
			close(answer)
			next(t, ev, "connect")
			if websocket.Compressed(c) != deflate {
				t.Fatalf("Compressed %v", websocket.Compressed(c))
			}
			want := []frameIn{{1, false, "a"}, {2, deflate, string(long)}, {9, false, "p"}, {2, deflate, string(long[:2000])}, {1, false, "t"}}
			frames := recv(t, got, "the server's frames")
			if fmt.Sprint(frames) != fmt.Sprint(want) {
				t.Fatalf("server got\n%.300v\nwant\n%.300v", frames, want)
			}
			if e := next(t, ev, "close"); e.code != websocket.CloseNormal {
				t.Fatalf("close %d", e.code)
			}
		})
	}
}

// Before the connect, the package's functions on a client that is not
// connecting say so, and a Ping too long is refused at once.
func TestAsyncClientSendsWhenIdle(t *testing.T) {
	c, _ := dialer("ws://127.0.0.1:1/", websocket.New())
	if err := websocket.SendText(c, "x"); !errors.Is(err, websocket.ErrNotOpen) {
		t.Fatalf("SendText before Connect: %v", err)
	}
	if err := websocket.Ping(c, make([]byte, 126)); !errors.Is(err, websocket.ErrControlTooLong) {
		t.Fatalf("long Ping: %v", err)
	}
	if err := c.Send("x", false); !errors.Is(err, core.ErrClosed) {
		t.Fatalf("Send before Connect: %v", err)
	}
}

// A server that accepts the handshake and closes right away: OnConnect,
// then OnClose with 1006, and what was queued was written or dropped,
// never blocking.
func TestAsyncClientServerAcceptsThenCloses(t *testing.T) {
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
		c.Write([]byte(accept101(req, "")))
	})
	c, ev := dialer("ws://"+addr+"/", websocket.New())
	c.Connect()
	defer c.Destroy()
	websocket.SendText(c, strings.Repeat("x", 100))
	next(t, ev, "connect")
	if e := next(t, ev, "close"); e.code != websocket.CloseAbnormal {
		t.Fatalf("close %d %q", e.code, e.data)
	}
}
