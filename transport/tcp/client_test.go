package tcp_test

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/transport/tcp"
)

// clientEvents records an AsyncConnection's callbacks.
type clientEvents struct {
	mu       sync.Mutex
	connects int
	closes   int
	msgs     []string
	errs     []string
	codes    []int
	closed   chan struct{}
}

func watch(a *core.AsyncConnection) *clientEvents {
	ev := &clientEvents{closed: make(chan struct{}, 16)}
	a.OnConnect = func(core.Connection) { ev.mu.Lock(); ev.connects++; ev.mu.Unlock() }
	a.OnMessage = func(_ core.Connection, d []byte) { ev.mu.Lock(); ev.msgs = append(ev.msgs, string(d)); ev.mu.Unlock() }
	a.OnError = func(_ core.Connection, code int, msg string) {
		ev.mu.Lock()
		ev.codes = append(ev.codes, code)
		ev.errs = append(ev.errs, msg)
		ev.mu.Unlock()
	}
	a.OnClose = func(core.Connection) {
		ev.mu.Lock()
		ev.closes++
		ev.mu.Unlock()
		ev.closed <- struct{}{}
	}
	return ev
}

func (ev *clientEvents) get(f func(ev *clientEvents) bool) bool {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	return f(ev)
}

func (ev *clientEvents) waitClose(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-ev.closed:
	case <-time.After(within):
		t.Fatalf("OnClose did not run within %v", within)
	}
}

func echoLines() *core.Goer {
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	g.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(d, false) }
	return g
}

func TestClientEchoAndSendsBeforeConnect(t *testing.T) {
	addr := start(t, echoLines())
	a := core.NewAsyncConnection("tcp://"+addr, lines{})
	ev := watch(a)
	a.Connect()
	for i := range 3 { // before the connection is up: queued
		if err := a.Send(fmt.Sprint("early ", i), false); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "3 echoes", func() bool { return ev.get(func(e *clientEvents) bool { return len(e.msgs) == 3 }) })
	if err := a.Send("late", false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "4 echoes", func() bool { return ev.get(func(e *clientEvents) bool { return len(e.msgs) == 4 }) })
	a.Close("")
	ev.waitClose(t, 10*time.Second)
	ev.get(func(e *clientEvents) bool {
		if strings.Join(e.msgs, ",") != "early 0,early 1,early 2,late" || e.connects != 1 || e.closes != 1 || len(e.errs) != 0 {
			t.Errorf("msgs %q connects %d closes %d errs %q", e.msgs, e.connects, e.closes, e.errs)
		}
		return true
	})
	if a.GetRemoteAddress() != "" || a.Send("x", false) == nil {
		t.Error("a closed client still has an address or takes sends")
	}
}

func TestClientSendBeforeConnectBounded(t *testing.T) {
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	var got []string
	var mu sync.Mutex
	g.OnMessage = func(c core.Connection, d []byte) { mu.Lock(); got = append(got, string(d)); mu.Unlock() }
	addr := start(t, g)
	a := core.NewAsyncConnection(addr, lines{})
	a.MaxSendBufferSize = 100
	ev := watch(a)
	a.Close("") // not connecting: nothing happens
	a.Connect()
	var accepted, refused int
	for range 50 {
		switch err := a.Send("0123456789", false); err {
		case nil:
			accepted++
		case core.ErrSendBufferFull:
			refused++
		default:
			// connected meanwhile: the connection's own limit
		}
	}
	if refused == 0 && a.Conn() == nil {
		t.Errorf("500 bytes before the connect were all taken with a 100-byte limit")
	}
	a.Close("bye")
	ev.waitClose(t, 10*time.Second)
	waitFor(t, "the server got bye", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) > 0 && got[len(got)-1] == "bye" })
	mu.Lock()
	if len(got) != accepted+1 {
		t.Errorf("the server got %d messages, %d accepted before the connect and bye", len(got), accepted)
	}
	mu.Unlock()
}

func TestClientConnectRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	a := core.NewAsyncConnection("tcp://"+addr, nil)
	ev := watch(a)
	begin := time.Now()
	a.Connect()
	ev.waitClose(t, 5*time.Second)
	took := time.Since(begin)
	ev.get(func(e *clientEvents) bool {
		if len(e.codes) != 1 || e.codes[0] != core.ErrCodeConnectFail || !strings.Contains(e.errs[0], core.ErrConnectFailed.Error()) || e.connects != 0 {
			t.Errorf("codes %v errs %q connects %d", e.codes, e.errs, e.connects)
		}
		return true
	})
	if took > time.Second {
		t.Errorf("a refused connect took %v to report", took)
	}
	t.Logf("a refused connect reported in %v", took)
	if n := a.Stats().Errors(core.ErrCodeConnectFail); n != 1 {
		t.Errorf("Errors(ErrCodeConnectFail) = %d", n)
	}
}

func TestClientUnknownScheme(t *testing.T) {
	a := core.NewAsyncConnection("carrier-pigeon://127.0.0.1:1", nil)
	ev := watch(a)
	a.Connect()
	ev.waitClose(t, 5*time.Second)
	ev.get(func(e *clientEvents) bool {
		if len(e.errs) != 1 || !strings.Contains(e.errs[0], "unknown transport") {
			t.Errorf("errs %q", e.errs)
		}
		return true
	})
}

func TestClientPanicContained(t *testing.T) {
	addr := start(t, echoLines())
	a := core.NewAsyncConnection(addr, lines{})
	ev := watch(a)
	a.Logger = quietLogger()
	a.OnMessage = func(core.Connection, []byte) { panic("boom") }
	a.OnConnect = func(c core.Connection) { c.Send("hi", false) }
	a.Connect()
	ev.waitClose(t, 10*time.Second)
	ev.get(func(e *clientEvents) bool {
		if len(e.codes) != 1 || e.codes[0] != core.ErrCodePanic {
			t.Errorf("codes %v errs %q", e.codes, e.errs)
		}
		return true
	})
	if a.Stats().Panics.Load() != 1 {
		t.Errorf("panics counted: %d", a.Stats().Panics.Load())
	}
}

func TestClientReconnectAfterServerRestart(t *testing.T) {
	g := echoLines()
	g.Logger = quietLogger()
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	addr := g.Addr().String()
	a := core.NewAsyncConnection(addr, lines{})
	a.AutoReconnect = &core.Backoff{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond}
	ev := watch(a)
	var connects atomic.Int32
	a.OnConnect = func(c core.Connection) {
		connects.Add(1)
		c.Send(fmt.Sprint("hello ", connects.Load()), false)
	}
	a.Connect()
	waitFor(t, "first echo", func() bool { return ev.get(func(e *clientEvents) bool { return len(e.msgs) == 1 }) })
	g.Stop()
	ev.waitClose(t, 10*time.Second)
	time.Sleep(150 * time.Millisecond) // some refused attempts
	g2 := core.NewGoer(addr, lines{}, "tcp")
	g2.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(d, false) }
	start(t, g2)
	waitFor(t, "echo after the restart", func() bool { return ev.get(func(e *clientEvents) bool { return len(e.msgs) == 2 }) })
	ev.get(func(e *clientEvents) bool {
		if e.msgs[1] != "hello 2" {
			t.Errorf("msgs %q", e.msgs)
		}
		for _, c := range e.codes {
			if c != core.ErrCodeConnectFail {
				t.Errorf("unexpected error code %d: %q", c, e.errs)
			}
		}
		return true
	})
	// An explicit Reconnect replaces the connection.
	a.Reconnect(0)
	waitFor(t, "echo after Reconnect", func() bool { return ev.get(func(e *clientEvents) bool { return len(e.msgs) == 3 }) })
	a.Close("")
	for ev.get(func(e *clientEvents) bool { return e.closes < e.connects+len(e.codes) }) {
		ev.waitClose(t, 10*time.Second)
	}
	time.Sleep(150 * time.Millisecond)
	if n := connects.Load(); n != 3 {
		t.Errorf("connected %d times after Close, want 3", n)
	}
}

// TestPipeBothWays runs a proxy on a Goer: each accepted connection is
// piped to a client connection to an echo backend and back; what goes
// through comes back whole.
func TestPipeBothWays(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var bwg sync.WaitGroup
	t.Cleanup(func() { backend.Close(); bwg.Wait() })
	bwg.Add(1)
	go func() {
		defer bwg.Done()
		for {
			c, err := backend.Accept()
			if err != nil {
				return
			}
			bwg.Add(1)
			go func() { defer bwg.Done(); io.Copy(c, c); c.Close() }()
		}
	}()
	proxy, clients := pipeProxy(t, "tcp://"+backend.Addr().String())
	addr := start(t, proxy)

	const size = 32 << 20
	c := dial(t, addr)
	c.SetDeadline(time.Now().Add(60 * time.Second))
	sent, got := sha256.New(), sha256.New()
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		io.CopyN(io.MultiWriter(c, sent), rand.Reader, size)
	}()
	n, err := io.CopyN(got, c, size)
	<-wrote
	c.Close()
	if err != nil || n != size {
		t.Fatalf("read %d of %d bytes: %v", n, size, err)
	}
	if string(sent.Sum(nil)) != string(got.Sum(nil)) {
		t.Fatal("the bytes that came back differ")
	}
	waitFor(t, "the client side closed", func() bool { return clients.Load() == 0 })
}

// pipeProxy returns a Goer that pipes each connection to backend; clients
// counts the open client connections.
func pipeProxy(t *testing.T, backend string) (*core.Goer, *atomic.Int32) {
	var clients atomic.Int32
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.MaxSendBufferSize = 256 << 10
	g.OnConnect = func(c core.Connection) {
		a := core.NewAsyncConnection(backend, nil)
		a.MaxSendBufferSize = 256 << 10
		a.OnConnect = func(core.Connection) { clients.Add(1) }
		a.OnClose = func(core.Connection) { clients.Add(-1) }
		src := c.(*core.TCPConnection)
		src.UserData = a
		src.Pipe(a)
		a.Pipe(src)
		a.Connect()
	}
	return g, &clients
}

// TestPipeSlowConsumer: a backend that does not read holds the proxy's
// memory to the send limits: the accepted side stops reading.
func TestPipeSlowConsumer(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	proxy, _ := pipeProxy(t, "tcp://"+backend.Addr().String())
	var peak atomic.Int64
	var conn atomic.Pointer[core.TCPConnection]
	inner := proxy.OnConnect
	proxy.OnConnect = func(c core.Connection) { inner(c); conn.Store(c.(*core.TCPConnection)) }
	addr := start(t, proxy)
	c := dial(t, addr)
	b, err := backend.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	const size = 64 << 20
	sent := sha256.New()
	wrote := make(chan int64, 1)
	go func() {
		n, _ := io.CopyN(io.MultiWriter(c, sent), rand.Reader, size)
		c.(*net.TCPConn).CloseWrite()
		wrote <- n
	}()
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if src := conn.Load(); src != nil {
				if a, ok := src.UserData.(*core.AsyncConnection); ok {
					if q := int64(a.SendQueueSize()); q > peak.Load() {
						peak.Store(q)
					}
				}
			}
		}
	}()
	time.Sleep(500 * time.Millisecond) // the backend reads nothing
	got := sha256.New()
	br := bufio.NewReader(b)
	time.Sleep(10 * time.Millisecond)
	n, err := io.Copy(got, lagging(br))
	close(stop)
	<-sampled
	if w := <-wrote; err != nil || n != w || w != size {
		t.Fatalf("backend read %d, client wrote %d of %d: %v", n, w, size, err)
	}
	if string(sent.Sum(nil)) != string(got.Sum(nil)) {
		t.Fatal("the backend got other bytes")
	}
	// The limit, plus the message that crossed it: raw, one message is
	// what the engine read, and after a pause that may be several reads
	// (64 KiB each on epoll). Bounded either way: not the 64 MiB sent.
	if limit := int64(256<<10 + 4*max(tcp.ReadBufferSize, 64<<10)); peak.Load() > limit {
		t.Errorf("the client's queue reached %d bytes, limit %d", peak.Load(), limit)
	}
	t.Logf("peak queue %d bytes", peak.Load())
}

// iotest reads slowly: a consumer that lags.
func lagging(r io.Reader) io.Reader { return lagReader{r} }

type lagReader struct{ r io.Reader }

func (s lagReader) Read(b []byte) (int, error) {
	if len(b) > 64<<10 {
		b = b[:64<<10]
	}
	return s.r.Read(b)
}

// TestManyClients opens many client connections from this process to one
// Goer (2,000; GOES_CLIENTS sets another count, 10,000 for the full run),
// each sending a line and getting it back.
func TestManyClients(t *testing.T) {
	n := 2000
	if s := os.Getenv("GOES_CLIENTS"); s != "" {
		fmt.Sscan(s, &n)
	}
	addr := start(t, echoLines())
	var answered, closed atomic.Int32
	done := make(chan struct{})
	clients := make([]*core.AsyncConnection, n)
	for i := range clients {
		a := core.NewAsyncConnection(addr, lines{})
		a.OnConnect = func(c core.Connection) { c.Send("ping", false) }
		a.OnMessage = func(core.Connection, []byte) { answered.Add(1) }
		a.OnError = func(_ core.Connection, code int, msg string) { t.Errorf("client error %d: %s", code, msg) }
		a.OnClose = func(core.Connection) {
			if int(closed.Add(1)) == n {
				close(done)
			}
		}
		clients[i] = a
		a.Connect()
	}
	waitFor(t, "every answer", func() bool { return int(answered.Load()) == n })
	for _, a := range clients {
		a.Close("")
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%d of %d clients closed", closed.Load(), n)
	}
}

// TestClientTLSAndUnix: ssl:// verifies the server against TLSConfig's
// roots (and fails against a client that does not trust it); unix://
// dials a socket path.
func TestClientTLSAndUnix(t *testing.T) {
	cert, roots := selfSigned(t)
	g := core.NewGoer("127.0.0.1:0", lines{}, "ssl")
	g.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	g.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(d, false) }
	addr := start(t, g)

	u := core.NewGoer(filepath.Join(t.TempDir(), "echo.sock"), lines{}, "unix")
	u.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(d, false) }
	uaddr := start(t, u)

	for _, tc := range []struct {
		address string
		conf    *tls.Config
		ok      bool
	}{
		{"ssl://" + addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}, true},
		{"ssl://" + addr, nil, false}, // the system roots do not know the server
		{"unix://" + uaddr, nil, true},
	} {
		a := core.NewAsyncConnection(tc.address, lines{})
		a.TLSConfig = tc.conf
		ev := watch(a)
		a.Connect()
		a.Send("over "+tc.address, false)
		if tc.ok {
			waitFor(t, "the echo", func() bool { return ev.get(func(e *clientEvents) bool { return len(e.msgs) == 1 }) })
			a.Close("")
		}
		ev.waitClose(t, 10*time.Second)
		ev.get(func(e *clientEvents) bool {
			if tc.ok && (len(e.errs) != 0 || e.msgs[0] != "over "+tc.address) || !tc.ok && (len(e.codes) != 1 || e.codes[0] != core.ErrCodeConnectFail) {
				t.Errorf("%s: msgs %q codes %v errs %q", tc.address, e.msgs, e.codes, e.errs)
			}
			return true
		})
	}
}

// TestAutoReconnectEnds: automatic reconnection stops when the Server
// stops, and when Close is called.
func TestAutoReconnectEnds(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	for _, viaServer := range []bool{true, false} {
		g := core.NewGoer("127.0.0.1:0", nil, "tcp")
		g.Logger = quietLogger()
		if err := g.Start(); err != nil {
			t.Fatal(err)
		}
		a := core.NewAsyncConnection(dead, nil)
		a.Server = g
		a.AutoReconnect = &core.Backoff{Initial: 5 * time.Millisecond, Max: 10 * time.Millisecond}
		var attempts atomic.Int32
		a.OnClose = func(core.Connection) { attempts.Add(1) }
		a.Connect()
		waitFor(t, "a few attempts", func() bool { return attempts.Load() >= 3 })
		if viaServer {
			g.Stop()
		} else {
			a.Close("")
		}
		time.Sleep(50 * time.Millisecond) // an attempt under way ends
		n := attempts.Load()
		time.Sleep(150 * time.Millisecond)
		if m := attempts.Load(); m != n {
			t.Errorf("server stopped %v: %d attempts after the end", viaServer, m-n)
		}
		g.Stop()
	}
}
