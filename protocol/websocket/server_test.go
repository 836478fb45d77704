package websocket_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cws "github.com/coder/websocket"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/websocket"
)

func dialCoder(t *testing.T, ctx context.Context, url string, opts *cws.DialOptions) *cws.Conn {
	t.Helper()
	c, _, err := cws.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func TestEchoCoder(t *testing.T) {
	big := make([]byte, 16<<20)
	rand.Read(big)
	cases := []struct {
		name string
		typ  cws.MessageType
		data []byte
		frag int // write in pieces of this size (0: one frame)
	}{
		{"text", cws.MessageText, []byte("hello, goer"), 0},
		{"binary", cws.MessageBinary, []byte{0, 1, 2, 0xff}, 0},
		{"empty text", cws.MessageText, []byte{}, 0},
		{"empty binary", cws.MessageBinary, []byte{}, 0},
		{"utf8", cws.MessageText, []byte("你好，世界 🌍"), 0},
		{"fragmented text", cws.MessageText, []byte(strings.Repeat("片段", 5000)), 1000},
		{"fragmented binary", cws.MessageBinary, big[:1<<20], 64 << 10},
		{"16 MiB", cws.MessageBinary, big, 0},
	}
	for _, compress := range []bool{false, true} {
		p := websocket.New()
		p.Compression = compress
		addr := serve(t, p, func(g *core.Goer) {
			g.MaxPackageSize = 32 << 20
			g.MaxSendBufferSize = 32 << 20
			g.OnMessage = echo
		})
		mode := cws.CompressionDisabled
		if compress {
			mode = cws.CompressionNoContextTakeover
		}
		for _, tc := range cases {
			t.Run(tc.name+map[bool]string{true: " deflate"}[compress], func(t *testing.T) {
				// 16 MiB of random bytes deflated both ways under -race on a
				// loaded machine has taken 54 s.
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				c := dialCoder(t, ctx, "ws://"+addr+"/echo", &cws.DialOptions{CompressionMode: mode})
				c.SetReadLimit(64 << 20)
				if tc.frag == 0 {
					if err := c.Write(ctx, tc.typ, tc.data); err != nil {
						t.Fatal(err)
					}
				} else {
					w, err := c.Writer(ctx, tc.typ)
					if err != nil {
						t.Fatal(err)
					}
					for rest := tc.data; len(rest) > 0; {
						n := min(tc.frag, len(rest))
						if _, err := w.Write(rest[:n]); err != nil {
							t.Fatal(err)
						}
						rest = rest[n:]
					}
					if err := w.Close(); err != nil {
						t.Fatal(err)
					}
				}
				typ, got, err := c.Read(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if typ != tc.typ || !bytes.Equal(got, tc.data) {
					t.Fatalf("echo: type %v, %d bytes; want %v, %d bytes", typ, len(got), tc.typ, len(tc.data))
				}
				if err := c.Close(cws.StatusNormalClosure, ""); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestCompressionNegotiated(t *testing.T) {
	compressed := make(chan bool, 1)
	p := websocket.New()
	p.Compression = true
	addr := serve(t, p, func(g *core.Goer) {
		g.OnMessage = func(c core.Connection, data []byte) {
			compressed <- websocket.Compressed(c)
			c.Send(string(data), false)
		}
	})
	for _, tc := range []struct {
		mode cws.CompressionMode
		want bool
	}{{cws.CompressionDisabled, false}, {cws.CompressionNoContextTakeover, true}, {cws.CompressionContextTakeover, true}} {
		t.Run(map[bool]string{true: "offered", false: "not offered"}[tc.want], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c := dialCoder(t, ctx, "ws://"+addr+"/", &cws.DialOptions{CompressionMode: tc.mode})
			msg := strings.Repeat("compress me ", 1000)
			c.Write(ctx, cws.MessageText, []byte(msg))
			if got := recv(t, compressed, "message"); got != tc.want {
				t.Fatalf("Compressed = %v, want %v", got, tc.want)
			}
			_, got, err := c.Read(ctx)
			if err != nil || string(got) != msg {
				t.Fatalf("echo: %v, %d bytes", err, len(got))
			}
			c.Close(cws.StatusNormalClosure, "")
		})
	}
}

func TestSendTypes(t *testing.T) {
	p := websocket.New()
	addr := serve(t, p, func(g *core.Goer) {
		g.OnMessage = func(c core.Connection, data []byte) {
			switch string(data) {
			case "binary":
				websocket.SetSendType(c, websocket.BinaryMessage)
				c.Send("as binary", false)
			case "text":
				websocket.SetSendType(c, websocket.TextMessage)
				c.Send("as text", false)
			case "explicit":
				websocket.SendBinary(c, []byte{1, 2})
				websocket.SendText(c, "t")
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := dialCoder(t, ctx, "ws://"+addr+"/", nil)
	expect := func(typ cws.MessageType, data string) {
		t.Helper()
		gt, got, err := c.Read(ctx)
		if err != nil || gt != typ || string(got) != data {
			t.Fatalf("got %v %q %v; want %v %q", gt, got, err, typ, data)
		}
	}
	c.Write(ctx, cws.MessageText, []byte("binary"))
	expect(cws.MessageBinary, "as binary")
	c.Write(ctx, cws.MessageText, []byte("text"))
	expect(cws.MessageText, "as text")
	c.Write(ctx, cws.MessageText, []byte("explicit"))
	expect(cws.MessageBinary, "\x01\x02")
	expect(cws.MessageText, "t")
	c.Close(cws.StatusNormalClosure, "")
}

func TestProtocolSendTypeBinary(t *testing.T) {
	p := websocket.New()
	p.SendType = websocket.BinaryMessage
	addr := serve(t, p, func(g *core.Goer) {
		g.OnMessage = func(c core.Connection, data []byte) { c.SendBytes(data, false) }
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := dialCoder(t, ctx, "ws://"+addr+"/", nil)
	c.Write(ctx, cws.MessageText, []byte("x"))
	if typ, _, err := c.Read(ctx); err != nil || typ != cws.MessageBinary {
		t.Fatalf("got %v %v, want binary", typ, err)
	}
	c.Close(cws.StatusNormalClosure, "")
}

func TestPingFromClient(t *testing.T) {
	addr := serve(t, websocket.New(), func(g *core.Goer) { g.OnMessage = echo })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := dialCoder(t, ctx, "ws://"+addr+"/", nil)
	ctx2 := c.CloseRead(ctx) // a reader so that the pong is seen
	for i := 0; i < 3; i++ {
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
	}
	c.Close(cws.StatusNormalClosure, "")
	<-ctx2.Done()
}

func TestCloseCodes(t *testing.T) {
	type result struct {
		code   int
		reason string
	}
	closed := make(chan result, 1)
	addr := serve(t, websocket.New(), func(g *core.Goer) {
		g.OnMessage = func(c core.Connection, data []byte) {
			if string(data) == "close me" {
				websocket.CloseWith(c, 4002, "as you wish")
			}
		}
		g.OnClose = func(c core.Connection) {
			code, reason := websocket.CloseStatus(c)
			closed <- result{code, reason}
		}
	})
	t.Run("client closes", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := dialCoder(t, ctx, "ws://"+addr+"/", nil)
		if err := c.Close(4001, "bye"); err != nil {
			t.Fatalf("close handshake: %v", err)
		}
		if r := recv(t, closed, "OnClose"); r != (result{4001, "bye"}) {
			t.Fatalf("OnClose saw %v, want 4001 bye", r)
		}
	})
	t.Run("server closes", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c := dialCoder(t, ctx, "ws://"+addr+"/", nil)
		c.Write(ctx, cws.MessageText, []byte("close me"))
		_, _, err := c.Read(ctx)
		var ce cws.CloseError
		if !errors.As(err, &ce) || ce.Code != 4002 || ce.Reason != "as you wish" {
			t.Fatalf("client saw %v, want close 4002", err)
		}
		if r := recv(t, closed, "OnClose"); r != (result{4002, "as you wish"}) {
			t.Fatalf("OnClose saw %v", r)
		}
	})
	t.Run("no close frame", func(t *testing.T) {
		rc, _ := dialRaw(t, addr, "/")
		rc.c.Close()
		if r := recv(t, closed, "OnClose"); r.code != websocket.CloseAbnormal {
			t.Fatalf("OnClose saw %v, want 1006", r)
		}
	})
	t.Run("empty close frame", func(t *testing.T) {
		rc, _ := dialRaw(t, addr, "/")
		rc.write(frame(true, 0x8, nil, true))
		if code, _ := rc.expectClose(); code != websocket.CloseNormal {
			t.Fatalf("server answered %d, want 1000", code)
		}
		if r := recv(t, closed, "OnClose"); r.code != websocket.CloseNoStatus {
			t.Fatalf("OnClose saw %v, want 1005", r)
		}
	})
}

func TestStopSendsGoingAway(t *testing.T) {
	g := core.NewGoer("127.0.0.1:0", websocket.New(), "tcp")
	g.Logger = quietLogger()
	var code atomic.Int32
	g.OnClose = func(c core.Connection) {
		n, _ := websocket.CloseStatus(c)
		code.Store(int32(n))
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := cws.Dial(ctx, "ws://"+g.Addr().String()+"/", nil)
	if err != nil {
		g.Stop()
		t.Fatal(err)
	}
	defer c.CloseNow()
	waitFor(t, "connection", func() bool { return g.Connections.Len() == 1 })
	read := make(chan error, 1)
	go func() {
		_, _, err := c.Read(ctx)
		read <- err
	}()
	g.Stop()
	err = recv(t, read, "read")
	if cws.CloseStatus(err) != cws.StatusGoingAway {
		t.Fatalf("client saw %v, want 1001", err)
	}
	if code.Load() != websocket.CloseGoingAway {
		t.Fatalf("OnClose saw %d, want 1001", code.Load())
	}
}

func TestHandshakeCallback(t *testing.T) {
	type seen struct{ path, room, cookie, origin, proto string }
	got := make(chan seen, 1)
	p := websocket.New()
	p.Subprotocols = []string{"chat.v2", "chat.v1"}
	p.OnWebSocketConnect = func(c core.Connection, h *websocket.Handshake) error {
		r := h.Request
		if r.URL.Path == "/forbidden" {
			return websocket.Reject(http.StatusForbidden, "go away")
		}
		if r.URL.Path == "/boom" {
			panic("boom")
		}
		if r.URL.Path == "/plain-error" {
			return errors.New("no")
		}
		ck, _ := r.Cookie("session")
		var v string
		if ck != nil {
			v = ck.Value
		}
		h.Header.Set("X-Hello", "goer")
		c.Send("sent before the 101", false) // queued; follows the 101
		got <- seen{r.URL.Path, r.URL.Query().Get("room"), v, h.Origin(), h.Protocol}
		return nil
	}
	addr := serve(t, p, func(g *core.Goer) {
		g.OnConnect = func(c core.Connection) { c.Send("from OnConnect", false) }
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	h.Set("Cookie", "session=abc123")
	h.Set("Origin", "http://example.test")
	c, resp, err := cws.Dial(ctx, "ws://"+addr+"/chat?room=go", &cws.DialOptions{
		HTTPHeader: h, Subprotocols: []string{"chat.v1", "chat.v2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	want := seen{"/chat", "go", "abc123", "http://example.test", "chat.v2"}
	if s := recv(t, got, "handshake"); s != want {
		t.Fatalf("handshake saw %+v, want %+v", s, want)
	}
	if c.Subprotocol() != "chat.v2" || resp.Header.Get("X-Hello") != "goer" {
		t.Fatalf("subprotocol %q, X-Hello %q", c.Subprotocol(), resp.Header.Get("X-Hello"))
	}
	for _, want := range []string{"from OnConnect", "sent before the 101"} {
		if _, b, err := c.Read(ctx); err != nil || string(b) != want {
			t.Fatalf("read %q %v, want %q", b, err, want)
		}
	}
	c.Close(cws.StatusNormalClosure, "")

	for _, tc := range []struct {
		path   string
		status int
	}{{"/forbidden", 403}, {"/boom", 500}, {"/plain-error", 403}} {
		t.Run(tc.path, func(t *testing.T) {
			_, resp := dialRaw(t, addr, tc.path)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
		})
	}
}

func TestBadHandshakes(t *testing.T) {
	p := websocket.New()
	p.MaxHandshakeSize = 1024
	addr := serve(t, p, nil)
	cases := []struct {
		name, req string
		status    int
	}{
		{"plain GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 426},
		{"POST upgrade", "POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", 405},
		{"old version", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", 426},
		{"bad key", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n", 400},
		{"HTTP/1.0", "GET / HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", 400},
		{"garbage", "\x16\x03\x01 hello\r\n\r\n", 400},
		{"huge head", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("a", 2000) + "\r\n\r\n", 431},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rc, _ := dialRaw(t, addr, "/") // a valid connection first proves the server is alive
			rc.c.Close()
			c := dialPlain(t, addr)
			c.Write([]byte(tc.req))
			resp, err := http.ReadResponse(bufioReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status == 426 && resp.Header.Get("Sec-WebSocket-Version") != "13" {
				t.Fatal("426 without Sec-WebSocket-Version: 13")
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadAll(resp.Body); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestHTTPHandler(t *testing.T) {
	p := websocket.New()
	p.HTTPHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("handler")
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<h1>page "+r.URL.Path+"</h1>")
	})
	addr := serve(t, p, func(g *core.Goer) { g.OnMessage = echo })
	for _, tc := range []struct {
		path, body string
		status     int
	}{{"/", "<h1>page /</h1>", 200}, {"/x", "<h1>page /x</h1>", 200}, {"/panic", "Internal Server Error\n", 500}} {
		resp, err := http.Get("http://" + addr + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || string(b) != tc.body {
			t.Fatalf("%s: %d %q", tc.path, resp.StatusCode, b)
		}
	}
	http.DefaultClient.CloseIdleConnections()
	// the same port still upgrades
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := dialCoder(t, ctx, "ws://"+addr+"/ws", nil)
	c.Write(ctx, cws.MessageText, []byte("hi"))
	if _, b, err := c.Read(ctx); err != nil || string(b) != "hi" {
		t.Fatalf("%q %v", b, err)
	}
	c.Close(cws.StatusNormalClosure, "")
}

// Close(data) sends data as a message, then a 1000 close frame; OnClose
// sees 1000.
func TestCloseSendsCloseFrame(t *testing.T) {
	g := core.NewGoer("127.0.0.1:0", websocket.New(), "tcp")
	g.Logger = quietLogger()
	closed := make(chan int, 1)
	g.OnMessage = func(c core.Connection, data []byte) { c.Close("bye") }
	g.OnClose = func(c core.Connection) {
		n, _ := websocket.CloseStatus(c)
		closed <- n
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := cws.Dial(ctx, "ws://"+g.Addr().String()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, cws.MessageText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	typ, msg, err := c.Read(ctx)
	if err != nil || typ != cws.MessageText || string(msg) != "bye" {
		t.Fatalf("got %v %q %v", typ, msg, err)
	}
	_, _, err = c.Read(ctx)
	if cws.CloseStatus(err) != cws.StatusNormalClosure {
		t.Fatalf("client saw %v, want 1000", err)
	}
	if code := recv(t, closed, "OnClose"); code != websocket.CloseNormal {
		t.Fatalf("OnClose saw %d", code)
	}
}
