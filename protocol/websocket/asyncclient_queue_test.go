package websocket_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/tls"
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

// SendTypeOf tells the type of the next message Send sends: the
// Protocol's SendType before the connect, and the latest SetSendType
// while the client connects (its TLS handshake held here) and while it
// waits for the server's answer, though those SetSendType wait in the
// queue; the messages go out in the types they were sent with.
func TestAsyncClientSendTypeBeforeOpen(t *testing.T) {
	cert, pool := selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	hello, asked, answer := make(chan struct{}), make(chan struct{}), make(chan struct{})
	got := make(chan []string, 1)
	served, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(served)
		raw, err := ln.Accept()
		if err != nil {
			return
		}
		defer raw.Close()
		raw.SetDeadline(time.Now().Add(20 * time.Second))
		wait := func(ch chan struct{}) bool {
			select {
			case <-ch:
				return true
			case <-done:
				return false
			}
		}
		if !wait(hello) {
			return
		}
		c := tls.Server(raw, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Errorf("upgrade request: %v", err)
			return
		}
		close(asked)
		if !wait(answer) {
			return
		}
		c.Write([]byte(accept101(req, "")))
		var frames []string
		for range 5 {
			op, p := readClientFrame(t, br)
			frames = append(frames, fmt.Sprintf("%d %s", op, p))
		}
		got <- frames
		io.Copy(io.Discard, br)
	}()
	defer func() {
		close(done)
		ln.Close()
		<-served
	}()

	p := websocket.New()
	p.SendType = websocket.BinaryMessage
	c, ev := dialer("wss://"+ln.Addr().String()+"/", p)
	c.TLSConfig = &tls.Config{RootCAs: pool}
	check := func(when string, want websocket.MessageType) {
		t.Helper()
		if got := websocket.SendTypeOf(c); got != want {
			t.Fatalf("%s: SendTypeOf %s, want %s", when, got, want)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check("before the connect", websocket.BinaryMessage)
	c.Connect()
	defer func() {
		c.Destroy()
		next(t, ev, "close")
	}()
	if c.State() != core.StateConnecting || c.Conn() != nil {
		t.Fatalf("state %s, connection %v: not connecting", c.State(), c.Conn())
	}
	must(c.Send("a", false))
	must(websocket.SetSendType(c, websocket.TextMessage))
	check("connecting", websocket.TextMessage)
	must(c.Send("b", false))
	must(websocket.SetSendType(c, websocket.BinaryMessage))
	check("connecting", websocket.BinaryMessage)
	must(c.Send("c", false))
	if c.Conn() != nil {
		t.Fatal("connected while the server held the TLS handshake")
	}
	close(hello)
	recv(t, asked, "the upgrade request")
	if c.State() != core.StateConnecting || c.Conn() == nil {
		t.Fatalf("state %s, connection %v: not waiting for the answer", c.State(), c.Conn())
	}
	check("waiting for the answer", websocket.BinaryMessage)
	must(websocket.SetSendType(c, websocket.TextMessage))
	check("waiting for the answer", websocket.TextMessage)
	must(c.Send("d", false))
	close(answer)
	next(t, ev, "connect")
	check("open", websocket.TextMessage)
	must(websocket.SetSendType(c, websocket.BinaryMessage))
	check("open", websocket.BinaryMessage)
	must(c.Send("e", false))
	frames := recv(t, got, "the server's frames")
	if want := "[2 a 1 b 2 c 1 d 2 e]"; fmt.Sprint(frames) != want {
		t.Fatalf("server got %v, want %s", frames, want)
	}
}
