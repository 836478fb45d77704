package tcp_test

import (
	"crypto/tls"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// remotes records the remote address of every connection a Goer accepts.
type remotes struct {
	mu    sync.Mutex
	addrs []string
}

func (r *remotes) onConnect(c core.Connection) {
	r.mu.Lock()
	r.addrs = append(r.addrs, c.GetRemoteAddress())
	r.mu.Unlock()
}

func (r *remotes) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.addrs) == 0 {
		return ""
	}
	return r.addrs[len(r.addrs)-1]
}

// freePort returns a port that no TCP socket holds at ip just now. It
// binds without SO_REUSEADDR, as a dialer does (net.Listen sets it, and
// would hand out a port a connection still uses).
func freePort(t *testing.T, ip string) string {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	sa := &syscall.SockaddrInet4{}
	copy(sa.Addr[:], net.ParseIP(ip).To4())
	if err := syscall.Bind(fd, sa); err != nil {
		t.Fatal(err)
	}
	got, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(got.(*syscall.SockaddrInet4).Port)
}

// TestClientBindTo: a client connection made from BindTo's address (and
// port) reaches the server from there, on both engines; unix:// binds a
// path.
func TestClientBindTo(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			g := echoLines()
			g.Engine = engine
			var seen remotes
			g.OnConnect = seen.onConnect
			addr := start(t, g)
			port3, port := freePort(t, "127.0.0.3"), freePort(t, "0.0.0.0")
			for _, tc := range []struct{ bind, want string }{
				{"127.0.0.2", "127.0.0.2:"},
				{"127.0.0.3:" + port3, "127.0.0.3:" + port3},
				{"[127.0.0.2]:0", "127.0.0.2:"},
				{":" + port, "127.0.0.1:" + port}, // any address, this port
			} {
				a := core.NewAsyncConnection(addr, lines{})
				a.Server = g
				a.BindTo = tc.bind
				ev := watch(a)
				a.Connect()
				a.Send("from "+tc.bind, false)
				waitFor(t, "the echo", func() bool { return ev.get(func(e *clientEvents) bool { return len(e.msgs) == 1 || e.closes > 0 }) })
				got, local := seen.last(), a.GetLocalAddress()
				a.Close("")
				ev.waitClose(t, 10*time.Second)
				ev.get(func(e *clientEvents) bool {
					if len(e.errs) != 0 || len(e.msgs) != 1 {
						t.Errorf("BindTo %s: msgs %q errs %q", tc.bind, e.msgs, e.errs)
					}
					return true
				})
				if !strings.HasPrefix(got, tc.want) || got != local {
					t.Errorf("BindTo %s: the server saw %q, the client is at %q, want %s…", tc.bind, got, local, tc.want)
				}
			}

			// unix:// binds a path; the peer is a plain listener, which
			// tells where the connection comes from.
			dir := t.TempDir()
			uln, err := net.Listen("unix", filepath.Join(dir, "server.sock"))
			if err != nil {
				t.Fatal(err)
			}
			defer uln.Close()
			from := make(chan string, 1)
			go func() {
				c, err := uln.Accept()
				if err != nil {
					from <- err.Error()
					return
				}
				from <- c.RemoteAddr().String()
				c.Close()
			}()
			a := core.NewAsyncConnection("unix://"+uln.Addr().String(), lines{})
			a.Server = g
			a.BindTo = filepath.Join(dir, "client.sock")
			ev := watch(a)
			a.Connect()
			select {
			case got := <-from:
				if got != a.BindTo {
					t.Errorf("unix: the server saw %q, want %q", got, a.BindTo)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("unix: no connection")
			}
			ev.waitClose(t, 10*time.Second) // the listener closed it
			waitLoopsStopped(t)
		})
	}
}

// TestClientBindToFails: a BindTo that cannot be bound (a port in use, an
// address of another family than the peer's, not an IP address) fails
// the connect: OnError with ErrCodeConnectFail, then OnClose, and no
// OnConnect; the server sees no connection.
func TestClientBindToFails(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			g := echoLines()
			g.Engine = engine
			var seen remotes
			g.OnConnect = seen.onConnect
			addr := start(t, g)
			busy, err := net.Listen("tcp", "127.0.0.2:0")
			if err != nil {
				t.Fatal(err)
			}
			defer busy.Close()
			for _, tc := range []struct{ bind, why string }{
				{busy.Addr().String(), "address already in use"},
				{"::1", "no suitable address"},
				{"localhost", "not an IP address"},
				{"127.0.0.1:http-alt-nonsense", "bad port"},
			} {
				a := core.NewAsyncConnection(addr, lines{})
				a.Server = g
				a.BindTo = tc.bind
				ev := watch(a)
				a.Connect()
				ev.waitClose(t, 10*time.Second)
				ev.get(func(e *clientEvents) bool {
					if e.connects != 0 || e.closes != 1 || len(e.codes) != 1 || e.codes[0] != core.ErrCodeConnectFail ||
						!strings.Contains(e.errs[0], core.ErrConnectFailed.Error()) || !strings.Contains(e.errs[0], tc.why) {
						t.Errorf("BindTo %s: connects %d closes %d codes %v errs %q, want an error saying %q",
							tc.bind, e.connects, e.closes, e.codes, e.errs, tc.why)
					}
					return true
				})
			}
			time.Sleep(20 * time.Millisecond)
			if got := seen.last(); got != "" {
				t.Errorf("the server saw a connection from %s", got)
			}
			waitLoopsStopped(t)
		})
	}
}

// TestClientBindToTLS: ssl:// binds too (its connections are served by the
// goroutine engine).
func TestClientBindToTLS(t *testing.T) {
	cert, roots := selfSigned(t)
	g := core.NewGoer("127.0.0.1:0", lines{}, "ssl")
	g.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	g.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(d, false) }
	var seen remotes
	g.OnConnect = seen.onConnect
	addr := start(t, g)
	a := core.NewAsyncConnection("ssl://"+addr, lines{})
	a.TLSConfig = &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
	a.BindTo = "127.0.0.3"
	ev := watch(a)
	a.Connect()
	a.Send("over tls", false)
	waitFor(t, "the echo", func() bool { return ev.get(func(e *clientEvents) bool { return len(e.msgs) == 1 || e.closes > 0 }) })
	a.Close("")
	ev.waitClose(t, 10*time.Second)
	if got := seen.last(); !strings.HasPrefix(got, "127.0.0.3:") {
		t.Errorf("the server saw %q, want 127.0.0.3:…", got)
	}
}
