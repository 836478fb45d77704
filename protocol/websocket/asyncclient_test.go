package websocket_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/websocket"
)

// engines are the server engines the client is tested against.
func engines() []string {
	if runtime.GOOS == "linux" {
		return []string{"goroutine", "epoll"}
	}
	return []string{"goroutine"}
}

// dialer is a core.AsyncConnection whose callbacks report to a channel.
func dialer(url string, p *websocket.Protocol) (*core.AsyncConnection, chan event) {
	ev := make(chan event, 1000)
	c := core.NewAsyncConnection(url, p)
	c.Logger = quietLogger()
	c.OnConnect = func(c core.Connection) { ev <- event{kind: "connect"} }
	c.OnMessage = func(c core.Connection, data []byte) {
		ev <- event{kind: "message", data: string(data), typ: websocket.MessageTypeOf(c)}
	}
	c.OnClose = func(c core.Connection) {
		code, reason := websocket.CloseStatus(c)
		ev <- event{kind: "close", code: code, data: reason}
	}
	c.OnError = func(c core.Connection, code int, msg string) { ev <- event{kind: "error", code: code, data: msg} }
	c.OnBufferFull = func(c core.Connection) { ev <- event{kind: "full"} }
	c.OnBufferDrain = func(c core.Connection) { ev <- event{kind: "drain"} }
	return c, ev
}

// kinds counts what an Observer is told.
type kinds struct {
	mu sync.Mutex
	n  map[string]int
}

func (k *kinds) ObserveFrame(c core.Connection, sent bool, kind string) {
	dir := "in "
	if sent {
		dir = "out "
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.n == nil {
		k.n = map[string]int{}
	}
	k.n[dir+kind]++
}

func (k *kinds) ObserveClose(c core.Connection, code int) {}

func (k *kinds) get(s string) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.n[s]
}

// The client on core.AsyncConnection against the module's own server, on
// each engine, plain and compressed: the path, headers and subprotocol of
// the request, sends queued before the handshake, text, binary, big and
// empty messages, pings both ways, and the close handshake started by
// either side.
func TestAsyncClientWithGoesServer(t *testing.T) {
	for _, engine := range engines() {
		for _, compress := range []bool{false, true} {
			name := engine + map[bool]string{false: "/plain", true: "/deflate"}[compress]
			t.Run(name, func(t *testing.T) {
				var serverSeen kinds
				serverClosed := make(chan event, 4)
				var request atomic.Value
				sp := websocket.New()
				sp.Compression = compress
				sp.Subprotocols = []string{"chat.v2"}
				sp.Observer = &serverSeen
				sp.OnWebSocketConnect = func(c core.Connection, h *websocket.Handshake) error {
					request.Store(h.Request.URL.RequestURI() + " origin=" + h.Origin())
					return nil
				}
				addr := serve(t, sp, func(g *core.Goer) {
					g.Engine = engine
					g.MaxPackageSize = 32 << 20
					g.MaxSendBufferSize = 32 << 20
					g.OnMessage = func(c core.Connection, data []byte) {
						switch string(data) {
						case "close me":
							websocket.CloseWith(c, 4002, "as you wish")
						case "ping me":
							websocket.Ping(c, []byte("from the server"))
							websocket.SendText(c, "pinged")
						default:
							echo(c, data)
						}
					}
					g.OnClose = func(c core.Connection) {
						code, reason := websocket.CloseStatus(c)
						serverClosed <- event{kind: "close", code: code, data: reason}
					}
				})
				var clientSeen kinds
				p := websocket.New()
				p.Compression = compress
				p.Subprotocols = []string{"chat.v1", "chat.v2"}
				p.Header = http.Header{"Origin": {"http://example.com"}}
				p.Observer = &clientSeen
				c, ev := dialer("ws://"+addr+"/chat?room=1", p)
				c.MaxPackageSize = 32 << 20
				c.MaxSendBufferSize = 32 << 20
				c.Connect()
				defer c.Destroy()
				if err := c.Send("early", false); err != nil { // before the connect: queued
					t.Fatal(err)
				}
				next(t, ev, "connect")
				if got := request.Load(); got != "/chat?room=1 origin=http://example.com" {
					t.Fatalf("server saw %v", got)
				}
				if s := websocket.SubprotocolOf(c); s != "chat.v2" {
					t.Fatalf("subprotocol %q", s)
				}
				if websocket.Compressed(c) != compress || !websocket.IsOpen(c) {
					t.Fatalf("Compressed %v IsOpen %v", websocket.Compressed(c), websocket.IsOpen(c))
				}
				big := strings.Repeat("0123456789", 1<<20)
				c.Send("hello", false)
				websocket.SendBinary(c, []byte{1, 2, 3})
				c.Send(big, false)
				c.Send("", false)
				for _, want := range []event{{"message", "early", websocket.TextMessage, 0}, {"message", "hello", websocket.TextMessage, 0},
					{"message", "\x01\x02\x03", websocket.BinaryMessage, 0}, {"message", big, websocket.TextMessage, 0}, {"message", "", websocket.TextMessage, 0}} {
					if e := next(t, ev, "message"); e != want {
						t.Fatalf("got %s %d bytes, want %s %d bytes", e.typ, len(e.data), want.typ, len(want.data))
					}
				}
				if err := websocket.Ping(c, []byte("from the client")); err != nil {
					t.Fatal(err)
				}
				c.Send("ping me", false)
				if e := next(t, ev, "message"); e.data != "pinged" {
					t.Fatalf("got %q", e.data)
				}
				waitFor(t, "the pongs", func() bool { return clientSeen.get("in pong") == 1 && serverSeen.get("in pong") == 1 })
				if n := clientSeen.get("out text"); n < 5 {
					t.Fatalf("client observed %d text messages sent", n)
				}
				c.Send("close me", false)
				if e := next(t, ev, "close"); e.code != 4002 || e.data != "as you wish" {
					t.Fatalf("client closed with %d %q", e.code, e.data)
				}
				if e := recv(t, serverClosed, "server OnClose"); e.code != 4002 {
					t.Fatalf("server closed with %d", e.code)
				}

				// Now the client closes.
				c.Connect()
				next(t, ev, "connect")
				c.Close("bye")
				if e := next(t, ev, "close"); e.code != websocket.CloseNormal {
					t.Fatalf("client closed with %d", e.code)
				}
				if e := recv(t, serverClosed, "server OnClose"); e.code != websocket.CloseNormal {
					t.Fatalf("server closed with %d", e.code)
				}
				if n := serverSeen.get("in text"); n != 7 {
					t.Fatalf("server saw %d text messages", n)
				}
			})
		}
	}
}

// wss:// dials TLS with the connection's TLSConfig.
func TestAsyncClientWSS(t *testing.T) {
	cert, pool := selfSigned(t)
	for _, engine := range engines() {
		t.Run(engine, func(t *testing.T) {
			g := core.NewGoer("127.0.0.1:0", websocket.New(), "ssl")
			g.Logger = quietLogger()
			g.Engine = engine
			g.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
			g.OnMessage = echo
			if err := g.Start(); err != nil {
				t.Fatal(err)
			}
			defer g.Stop()
			c, ev := dialer("wss://"+g.Addr().String()+"/", websocket.New())
			c.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			c.OnConnect = func(c core.Connection) { c.Send("over tls", false) }
			c.Connect()
			defer c.Close("")
			if e := next(t, ev, "message"); e.data != "over tls" {
				t.Fatalf("got %q", e.data)
			}
		})
	}
}

// The client reconnects (AutoReconnect) after its server went away and
// came back on the same address; sends of the new connection work.
func TestAsyncClientReconnect(t *testing.T) {
	start := func(addr string) *core.Goer {
		g := core.NewGoer(addr, websocket.New(), "tcp")
		g.Logger = quietLogger()
		g.OnConnect = func(c core.Connection) { c.Send("welcome", false) }
		g.OnMessage = echo
		if err := g.Start(); err != nil {
			t.Fatal(err)
		}
		return g
	}
	g := start("127.0.0.1:0")
	addr := g.Addr().String()
	c, ev := dialer("ws://"+addr+"/", websocket.New())
	c.AutoReconnect = &core.Backoff{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond}
	c.Connect()
	defer c.Close("")
	next(t, ev, "connect")
	if e := next(t, ev, "message"); e.data != "welcome" {
		g.Stop()
		t.Fatalf("got %q", e.data)
	}
	g.Stop() // 1001, then refused connects for a while
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
		t.Fatalf("got %q", e.data)
	}
	c.Send("again", false)
	if e := next(t, ev, "message"); e.data != "again" {
		t.Fatalf("got %q", e.data)
	}
}

// A message over the client's MaxPackageSize, plain or inflated, closes
// the connection with 1009 and ErrCodePackageTooLarge; memory stays
// bounded.
func TestAsyncClientMessageTooBig(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "inflated"}[compress], func(t *testing.T) {
			serverClosed := make(chan int, 1)
			sp := websocket.New()
			sp.Compression = compress
			addr := serve(t, sp, func(g *core.Goer) {
				g.OnMessage = func(c core.Connection, data []byte) {
					c.Send(string(data)+strings.Repeat("x", 1<<20), false) // compresses to a few KiB
				}
				g.OnClose = func(c core.Connection) {
					code, _ := websocket.CloseStatus(c)
					serverClosed <- code
				}
			})
			p := websocket.New()
			p.Compression = compress
			c, ev := dialer("ws://"+addr+"/", p)
			c.MaxPackageSize = 64 << 10
			c.Connect()
			defer c.Destroy()
			next(t, ev, "connect")
			c.Send("grow", false)
			if e := next(t, ev, "error"); e.code != core.ErrCodePackageTooLarge {
				t.Fatalf("error %d %s", e.code, e.data)
			}
			if e := next(t, ev, "close"); e.code != websocket.CloseMessageTooBig {
				t.Fatalf("client close code %d", e.code)
			}
			if code := recv(t, serverClosed, "server OnClose"); code != websocket.CloseMessageTooBig {
				t.Fatalf("server close code %d", code)
			}
		})
	}
}

// Close before the server answered the handshake waits for the answer:
// what was queued goes out, then the close frame (1000, or CloseWith's),
// and OnConnect runs (on a closing connection) before OnClose.
func TestAsyncClientCloseWhileConnecting(t *testing.T) {
	for _, tc := range []struct {
		name   string
		close  func(c *core.AsyncConnection) error
		code   int
		reason string
	}{
		{"Close", func(c *core.AsyncConnection) error { c.Close("last"); return nil }, websocket.CloseNormal, ""},
		{"CloseWith", func(c *core.AsyncConnection) error { return websocket.CloseWith(c, 4000, "bye") }, 4000, "bye"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			closed := make(chan struct{})
			got := make(chan []string, 1)
			addr := rawServer(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
				<-closed // answer only once the client has closed
				c.Write([]byte(accept101(req, "")))
				got <- readUntilClose(t, br)
				c.Write(serverFrame(8, closePayload(1000, "")))
			})
			c, ev := dialer("ws://"+addr+"/", websocket.New())
			c.Connect()
			c.Send("first", false)
			websocket.SendBinary(c, []byte{1, 2})
			if err := tc.close(c); err != nil {
				t.Fatal(err)
			}
			if err := c.Send("too late", false); !errors.Is(err, core.ErrClosed) {
				t.Fatalf("Send after Close: %v", err)
			}
			if err := websocket.SendText(c, "too late"); err == nil {
				t.Fatal("SendText after Close accepted")
			}
			close(closed)
			next(t, ev, "connect")
			if e := next(t, ev, "close"); e.code != tc.code || e.data != tc.reason {
				t.Fatalf("close %d %q", e.code, e.data)
			}
			frames := recv(t, got, "the server's read")
			want := []string{`1 "first"`, `2 "\x01\x02"`}
			if tc.name == "Close" {
				want = append(want, `1 "last"`)
			}
			want = append(want, fmt.Sprintf("8 %q", closePayload(tc.code, tc.reason)))
			if strings.Join(frames, ",") != strings.Join(want, ",") {
				t.Fatalf("server got %v, want %v", frames, want)
			}
			quiet(t, ev)
		})
	}
}

// A Close during the handshake waits CloseTimeout at most for a silent
// server: then the connect fails (OnError, OnClose), and what was queued
// never went out.
func TestAsyncClientCloseWhileConnectingTimesOut(t *testing.T) {
	got := make(chan int64, 1)
	addr := rawServer(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
		n, _ := io.Copy(io.Discard, br)
		got <- n
	})
	c, ev := dialer("ws://"+addr+"/", websocket.New())
	c.ConnectTimeout = 20 * time.Second
	c.CloseTimeout = 200 * time.Millisecond
	c.Connect()
	defer c.Destroy()
	c.Send("never", false)
	start := time.Now()
	c.Close("")
	expectConnectFail(t, ev, "CloseTimeout")
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("closed after %v", d)
	}
	if n := recv(t, got, "the server's read"); n != 0 {
		t.Fatalf("the server got %d bytes after the request", n)
	}
}
