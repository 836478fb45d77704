package websocket_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cws "github.com/coder/websocket"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/websocket"
)

type event struct {
	kind string
	data string
	typ  websocket.MessageType
	code int
}

// recorder is a Client whose callbacks report to a channel.
func recorder(url string) (*websocket.Client, chan event) {
	ev := make(chan event, 100)
	cl := websocket.NewClient(url)
	cl.Logger = quietLogger()
	cl.OnConnect = func(c core.Connection) { ev <- event{kind: "connect"} }
	cl.OnMessage = func(c core.Connection, data []byte) {
		ev <- event{kind: "message", data: string(data), typ: websocket.MessageTypeOf(c)}
	}
	cl.OnClose = func(c core.Connection) {
		code, _ := websocket.CloseStatus(c)
		ev <- event{kind: "close", code: code}
	}
	cl.OnError = func(c core.Connection, code int, msg string) { ev <- event{kind: "error", code: code, data: msg} }
	return cl, ev
}

func next(t *testing.T, ev chan event, kind string) event {
	t.Helper()
	for {
		e := recv(t, ev, kind)
		if e.kind == kind {
			return e
		}
		if kind != "error" && e.kind == "error" {
			t.Logf("client error %d: %s", e.code, e.data)
		}
	}
}

func TestClientWithGoesServer(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "deflate"}[compress], func(t *testing.T) {
			serverClosed := make(chan int, 1)
			p := websocket.New()
			p.Compression = compress
			addr := serve(t, p, func(g *core.Goer) {
				g.OnMessage = echo
				g.OnClose = func(c core.Connection) {
					code, _ := websocket.CloseStatus(c)
					serverClosed <- code
				}
			})
			cl, ev := recorder("ws://" + addr + "/client")
			cl.Compression = compress
			if err := cl.Start(); err != nil {
				t.Fatal(err)
			}
			defer cl.Stop()
			next(t, ev, "connect")
			c := cl.Conn()
			if websocket.Compressed(c) != compress {
				t.Fatalf("Compressed = %v", websocket.Compressed(c))
			}
			big := strings.Repeat("0123456789", 100000)
			c.Send("hello", false)
			websocket.SendBinary(c, []byte{1, 2, 3})
			c.Send(big, false)
			c.Send("", false)
			for _, want := range []event{{"message", "hello", websocket.TextMessage, 0}, {"message", "\x01\x02\x03", websocket.BinaryMessage, 0},
				{"message", big, websocket.TextMessage, 0}, {"message", "", websocket.TextMessage, 0}} {
				if e := next(t, ev, "message"); e != want {
					t.Fatalf("got %s %d bytes, want %s %d bytes", e.typ, len(e.data), want.typ, len(want.data))
				}
			}
			if err := websocket.Ping(c, []byte("x")); err != nil {
				t.Fatal(err)
			}
			cl.Stop()
			if e := next(t, ev, "close"); e.code != websocket.CloseNormal {
				t.Fatalf("client close code %d", e.code)
			}
			if code := recv(t, serverClosed, "server OnClose"); code != websocket.CloseNormal {
				t.Fatalf("server close code %d", code)
			}
		})
	}
}

func TestClientReconnect(t *testing.T) {
	start := func(addr string) *core.Goer {
		g := core.NewGoer(addr, websocket.New(), "tcp")
		g.Logger = quietLogger()
		g.OnConnect = func(c core.Connection) { c.Send("welcome", false) }
		if err := g.Start(); err != nil {
			t.Fatal(err)
		}
		return g
	}
	g := start("127.0.0.1:0")
	addr := g.Addr().String()
	cl, ev := recorder("ws://" + addr + "/")
	cl.Reconnect = true
	cl.MinBackoff = 20 * time.Millisecond
	cl.MaxBackoff = 100 * time.Millisecond
	if err := cl.Start(); err != nil {
		g.Stop()
		t.Fatal(err)
	}
	defer cl.Stop()
	next(t, ev, "connect")
	next(t, ev, "message")
	g.Stop() // the client sees 1001, then fails to dial for a while
	if e := next(t, ev, "close"); e.code != websocket.CloseGoingAway {
		t.Fatalf("close code %d, want 1001", e.code)
	}
	if e := next(t, ev, "error"); e.code != core.ErrCodeConnectFail {
		t.Fatalf("error code %d", e.code)
	}
	g = start(addr)
	defer g.Stop()
	next(t, ev, "connect")
	if e := next(t, ev, "message"); e.data != "welcome" {
		t.Fatalf("message %q", e.data)
	}
}

func TestClientDialFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cl, ev := recorder("ws://" + addr + "/")
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	defer cl.Stop()
	if e := next(t, ev, "error"); e.code != core.ErrCodeConnectFail {
		t.Fatalf("error code %d", e.code)
	}
}

// The client against an independent server (coder/websocket): fragmented
// messages, server pings, server close codes.
func TestClientWithCoderServer(t *testing.T) {
	var pinged atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := cws.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		for {
			typ, b, err := c.Read(ctx)
			if err != nil {
				return
			}
			switch string(b) {
			case "fragments":
				w, _ := c.Writer(ctx, cws.MessageBinary)
				for i := 0; i < 5; i++ {
					w.Write(bytes.Repeat([]byte{byte(i)}, 1000))
				}
				w.Close()
			case "ping":
				go func() { // Ping needs the reader above to see the pong
					if c.Ping(ctx) == nil {
						pinged.Store(true)
						c.Write(ctx, cws.MessageText, []byte("pinged"))
					}
				}()
			case "close":
				c.Close(4321, "coder says bye")
				return
			default:
				c.Write(ctx, typ, b)
			}
		}
	}))
	defer srv.Close()
	cl, ev := recorder("ws" + strings.TrimPrefix(srv.URL, "http") + "/")
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	defer cl.Stop()
	next(t, ev, "connect")
	c := cl.Conn()
	c.Send("fragments", false)
	if e := next(t, ev, "message"); len(e.data) != 5000 || e.typ != websocket.BinaryMessage || e.data[4999] != 4 {
		t.Fatalf("fragmented message: %s %d bytes", e.typ, len(e.data))
	}
	c.Send("ping", false)
	if e := next(t, ev, "message"); e.data != "pinged" || !pinged.Load() {
		t.Fatalf("after ping: %q", e.data)
	}
	c.Send("close", false)
	if e := next(t, ev, "close"); e.code != 4321 {
		t.Fatalf("close code %d", e.code)
	}
}

// Stop while the Client waits to reconnect returns at once, and no
// connect follows.
func TestClientStopWhileReconnecting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cl, ev := recorder("ws://" + addr + "/")
	cl.Reconnect = true
	cl.MinBackoff = time.Second
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	if e := next(t, ev, "error"); e.code != core.ErrCodeConnectFail {
		t.Fatalf("error code %d", e.code)
	}
	next(t, ev, "close")
	start := time.Now()
	cl.Stop()
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("Stop took %v", d)
	}
	select {
	case e := <-ev:
		t.Fatalf("after Stop: %+v", e)
	case <-time.After(1500 * time.Millisecond):
	}
	if cl.Conn() != nil {
		t.Fatal("Conn after Stop")
	}
}

// Stop during the handshake waits for the server's answer, CloseTimeout at
// most: a silent server fails the connect, one that answers gets the
// close frame; Stop returns once OnClose ran.
func TestClientStopDuringHandshake(t *testing.T) {
	t.Run("silent", func(t *testing.T) {
		requested := make(chan struct{})
		addr := rawServer(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
			close(requested)
			io.Copy(io.Discard, br)
		})
		cl, ev := recorder("ws://" + addr + "/")
		cl.CloseTimeout = 200 * time.Millisecond
		if err := cl.Start(); err != nil {
			t.Fatal(err)
		}
		recv(t, requested, "the request")
		start := time.Now()
		cl.Stop()
		if d := time.Since(start); d < 150*time.Millisecond || d > 5*time.Second {
			t.Fatalf("Stop took %v, CloseTimeout 200ms", d)
		}
		if e := recv(t, ev, "OnError"); e.kind != "error" || !strings.Contains(e.data, "CloseTimeout") {
			t.Fatalf("got %+v", e)
		}
		if e := recv(t, ev, "OnClose"); e.kind != "close" {
			t.Fatalf("got %+v", e)
		}
	})
	t.Run("answered", func(t *testing.T) {
		requested, answer := make(chan struct{}), make(chan struct{})
		got := make(chan string, 1)
		addr := rawServer(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
			close(requested)
			<-answer
			c.Write([]byte(accept101(req, "")))
			got <- strings.Join(readUntilClose(t, br), ",")
			c.Write(serverFrame(8, closePayload(1000, "")))
		})
		cl, ev := recorder("ws://" + addr + "/")
		if err := cl.Start(); err != nil {
			t.Fatal(err)
		}
		recv(t, requested, "the request")
		stopped := make(chan struct{})
		go func() { cl.Stop(); close(stopped) }()
		time.Sleep(50 * time.Millisecond)
		close(answer)
		recv(t, stopped, "Stop")
		if s, want := recv(t, got, "the frames"), fmt.Sprintf(`8 %q`, closePayload(1000, "")); s != want {
			t.Fatalf("server got %s, want %s", s, want)
		}
		next(t, ev, "connect")
		if e := next(t, ev, "close"); e.code != websocket.CloseNormal {
			t.Fatalf("close %d", e.code)
		}
	})
}
