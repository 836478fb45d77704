package tcp_test

import (
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

func init() {
	core.RegisterURLScheme("greet", "tcp", "1")
}

// greeter is lines with a client handshake: it sends "HELLO path" and
// waits for "WELCOME"; any other first line fails the connect.
type greeter struct {
	lines
	mu   sync.Mutex
	sent []string // the addresses ClientHandshake was given
}

var errDenied = errors.New("denied")

func (g *greeter) ClientHandshake(c core.Connection, address string) error {
	u, err := url.Parse(address)
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.sent = append(g.sent, address)
	g.mu.Unlock()
	c.SetContext("greeting")
	return c.SendBytes([]byte("HELLO "+u.Path+"\n"), true)
}

func (g *greeter) Decode(c core.Connection, p []byte) ([]byte, error) {
	line := string(p[:len(p)-1])
	if c.Context() == "greeting" {
		if line != "WELCOME" {
			return nil, errDenied
		}
		c.SetContext("open")
		return nil, core.ErrEstablished
	}
	return []byte(line), nil
}

// greetServer answers "HELLO /ok" with WELCOME, "HELLO /no" with NO, and
// stays silent otherwise; it echoes what follows.
func greetServer(t *testing.T) string {
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	g.OnMessage = func(c core.Connection, d []byte) {
		switch string(d) {
		case "HELLO /ok":
			c.Send("WELCOME", false)
			c.Send("first", false) // right behind the handshake
		case "HELLO /no":
			c.Send("NO", false)
		case "HELLO /silent":
		default:
			c.SendBytes(d, false)
		}
	}
	return start(t, g)
}

// A protocol with a client handshake: OnConnect waits for its answer and
// comes before the messages behind it; sends made before go out after
// it; a refusal, a silent peer (ConnectTimeout) and a peer that hangs up
// fail the connect with ErrCodeConnectFail, then OnClose.
func TestClientHandshake(t *testing.T) {
	addr := greetServer(t)
	port := addr[strings.LastIndexByte(addr, ':')+1:]

	t.Run("accepted", func(t *testing.T) {
		p := &greeter{}
		a := core.NewAsyncConnection("greet://127.0.0.1:"+port+"/ok", p)
		var order []string
		var mu sync.Mutex
		add := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
		a.OnConnect = func(c core.Connection) { add("connect") }
		a.OnMessage = func(c core.Connection, d []byte) { add(string(d)) }
		a.Connect()
		defer a.Destroy()
		a.Send("queued", false)
		waitFor(t, "the echo", func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 3 })
		if s := a.State(); s != core.StateOpen {
			t.Fatalf("State %s once established", s)
		}
		mu.Lock()
		got := strings.Join(order, ",")
		mu.Unlock()
		if got != "connect,first,queued" {
			t.Fatalf("got %s", got)
		}
		if p.sent[0] != "greet://127.0.0.1:"+port+"/ok" {
			t.Fatalf("handshake given %q", p.sent[0])
		}
	})
	for _, tc := range []struct {
		path, want string
		timeout    time.Duration
	}{
		{"/no", "denied", 0},
		{"/silent", "connect timed out", 200 * time.Millisecond},
	} {
		t.Run(tc.path, func(t *testing.T) {
			a := core.NewAsyncConnection("greet://127.0.0.1:"+port+tc.path, &greeter{})
			a.ConnectTimeout = tc.timeout
			ev := watch(a)
			a.Connect()
			defer a.Destroy()
			if tc.timeout > 0 {
				waitFor(t, "the connection", func() bool { return a.Conn() != nil })
				if s := a.State(); s != core.StateConnecting {
					t.Fatalf("State %s during the handshake", s)
				}
			}
			ev.waitClose(t, 5*time.Second)
			ev.get(func(ev *clientEvents) bool {
				if ev.connects != 0 || len(ev.codes) != 1 || ev.codes[0] != core.ErrCodeConnectFail || !strings.Contains(ev.errs[0], tc.want) {
					t.Fatalf("connects %d, errors %v %q", ev.connects, ev.codes, ev.errs)
				}
				return true
			})
		})
	}
	t.Run("hang up", func(t *testing.T) {
		g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
		g.OnMessage = func(c core.Connection, d []byte) { c.Close("") }
		addr := start(t, g)
		a := core.NewAsyncConnection("greet://"+addr+"/", &greeter{})
		ev := watch(a)
		a.Connect()
		defer a.Destroy()
		ev.waitClose(t, 5*time.Second)
		ev.get(func(ev *clientEvents) bool {
			if ev.connects != 0 || len(ev.codes) != 1 || ev.codes[0] != core.ErrCodeConnectFail {
				t.Fatalf("connects %d, errors %v %q", ev.connects, ev.codes, ev.errs)
			}
			return true
		})
	})
	t.Run("default port", func(t *testing.T) {
		// greet:// defaults to port 1, where nothing listens.
		a := core.NewAsyncConnection("greet://127.0.0.1/x", &greeter{})
		ev := watch(a)
		a.Connect()
		defer a.Destroy()
		ev.waitClose(t, 5*time.Second)
		ev.get(func(ev *clientEvents) bool {
			if len(ev.errs) != 1 || !strings.Contains(ev.errs[0], "127.0.0.1:1") {
				t.Fatalf("errors %q", ev.errs)
			}
			return true
		})
	})
}
