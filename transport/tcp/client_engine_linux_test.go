package tcp_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/transport/tcp"
)

var engines = []string{"epoll", "goroutine"}

// engineGoer starts a line echo Goer on engine; clients whose Server it is
// are served by the same engine.
func engineGoer(t *testing.T, engine string) (*core.Goer, string) {
	g := echoLines()
	g.Engine = engine
	return g, start(t, g)
}

// waitLoopsStopped waits for the client engine to stop: it must once its
// last connection ended.
func waitLoopsStopped(t *testing.T) {
	t.Helper()
	waitFor(t, "the client loops to stop", func() bool { return tcp.ClientLoops() == 0 })
}

// On the epoll engine a client connection belongs to an event loop: an
// idle one holds no goroutine, as an accepted one; on the goroutine engine
// it holds a reader. The loops stop with the last client connection.
func TestClientIdleOnLoop(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			const n = 1000
			g, addr := engineGoer(t, engine)
			var answered atomic.Int32
			before := runtime.NumGoroutine()
			clients := make([]*core.AsyncConnection, n)
			for i := range clients {
				a := core.NewAsyncConnection(addr, lines{})
				a.Server = g
				a.OnConnect = func(c core.Connection) { c.Send("hi", false) }
				a.OnMessage = func(core.Connection, []byte) { answered.Add(1) }
				clients[i] = a
				a.Connect()
			}
			waitFor(t, "every answer", func() bool { return answered.Load() == n })
			time.Sleep(50 * time.Millisecond)
			extra := runtime.NumGoroutine() - before
			onLoop := 0
			for _, a := range clients {
				if c := a.Conn(); c != nil && tcp.OnLoop(c.Socket()) {
					onLoop++
				}
			}
			t.Logf("%s: %d idle clients (and their %d accepted peers): %d more goroutines, %d on loops",
				engine, n, n, extra, onLoop)
			switch engine {
			case "epoll":
				if onLoop != n || tcp.ClientLoops() != runtime.GOMAXPROCS(0) {
					t.Errorf("%d of %d clients on %d loops", onLoop, n, tcp.ClientLoops())
				}
				// The loops, the watchdogs, and the engines' idle workers
				// (up to 64 each, kept for handlers handed to workers
				// under load): not one per connection.
				if extra > n/4 {
					t.Errorf("%d idle clients hold %d goroutines", n, extra)
				}
			case "goroutine":
				if onLoop != 0 || extra < 2*n-40 {
					t.Errorf("%d clients on loops, %d goroutines for %d pairs", onLoop, extra, n)
				}
			}
			for _, a := range clients {
				a.Close("")
			}
			waitFor(t, "the accepted side to close", func() bool { return g.Connections.Len() == 0 })
			waitLoopsStopped(t)
		})
	}
}

// A refused connect is reported at once: the loop sees the reset.
func TestClientRefusedPromptly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			g, _ := engineGoer(t, engine)
			var took []time.Duration
			for range 20 {
				a := core.NewAsyncConnection(addr, nil)
				a.Server = g
				failed := make(chan time.Time, 1)
				var msg string
				a.OnError = func(_ core.Connection, code int, m string) {
					if code == core.ErrCodeConnectFail {
						msg = m
						failed <- time.Now()
					}
				}
				begin := time.Now()
				a.Connect()
				select {
				case at := <-failed:
					took = append(took, at.Sub(begin))
				case <-time.After(5 * time.Second):
					t.Fatal("a refused connect was not reported")
				}
				if !strings.Contains(msg, core.ErrConnectFailed.Error()) || !strings.Contains(msg, "refused") {
					t.Fatalf("the error says %q", msg)
				}
			}
			slices.Sort(took)
			t.Logf("%s: refused connects reported in %v (median), %v (max)", engine, took[len(took)/2], took[len(took)-1])
			if took[len(took)/2] > 200*time.Millisecond {
				t.Errorf("refused connects took %v (median) to report", took[len(took)/2])
			}
			waitLoopsStopped(t)
		})
	}
}

// openFiles counts this process's descriptors.
func openFiles(t *testing.T) int {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// Connects that time out, and connects abandoned by Destroy, leave no
// descriptor and no loop behind.
func TestClientTimeoutAndDestroyWhileConnecting(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			g, _ := engineGoer(t, engine)
			addr := fullBacklog(t)
			before := openFiles(t)
			const n = 10
			var timeouts, errs, closes atomic.Int32
			var mu sync.Mutex
			var other []string
			destroyed := make([]*core.AsyncConnection, 0, n)
			begin := time.Now()
			for i := range 2 * n {
				a := core.NewAsyncConnection(addr, nil)
				a.Server = g
				a.ConnectTimeout = 300 * time.Millisecond
				if i%2 == 1 {
					a.ConnectTimeout = time.Minute
					destroyed = append(destroyed, a)
				}
				a.OnError = func(_ core.Connection, code int, msg string) {
					errs.Add(1)
					if code == core.ErrCodeConnectFail && strings.Contains(msg, core.ErrConnectTimeout.Error()) {
						timeouts.Add(1)
						return
					}
					mu.Lock()
					other = append(other, msg)
					mu.Unlock()
				}
				a.OnClose = func(core.Connection) { closes.Add(1) }
				a.Connect()
				a.Send("queued", true)
			}
			time.Sleep(50 * time.Millisecond)
			for _, a := range destroyed {
				if st := a.State(); st != core.StateConnecting {
					t.Fatalf("state %s, want %s", st, core.StateConnecting)
				}
				a.Destroy()
			}
			waitFor(t, "every OnClose", func() bool { return closes.Load() == 2*n })
			if took := time.Since(begin); took > 5*time.Second {
				t.Errorf("the connects ended after %v", took)
			}
			if timeouts.Load() != n || errs.Load() != n {
				mu.Lock()
				t.Errorf("%d timeouts, %d errors (want %d of each): %q", timeouts.Load(), errs.Load(), n, other)
				mu.Unlock()
			}
			waitLoopsStopped(t)
			// The engine stops on a goroutine of its own after its last
			// connection: its loops' descriptors close a moment later.
			after := openFiles(t)
			for deadline := time.Now().Add(5 * time.Second); after > before && time.Now().Before(deadline); after = openFiles(t) {
				time.Sleep(5 * time.Millisecond)
			}
			if after > before {
				t.Errorf("%d descriptors open before, %d after", before, after)
			}
		})
	}
}

// A paused client stops reading (the server's flood waits in the kernel)
// and gets every line once resumed; a package past MaxPackageSize closes
// it with OnError.
func TestClientPauseAndPackageLimit(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			const lineLen, count = 1000, 8000 // 8 MB
			line := strings.Repeat("x", lineLen-1)
			g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
			g.Engine = engine
			g.MaxSendBufferSize = 16 << 20
			g.OnMessage = func(c core.Connection, d []byte) {
				switch string(d) {
				case "flood":
					for range count {
						c.Send(line, false)
					}
				case "big":
					c.Send(strings.Repeat("y", 4096), false)
				}
			}
			addr := start(t, g)

			a := core.NewAsyncConnection(addr, lines{})
			a.Server = g
			ev := watch(a)
			var got atomic.Int32
			a.OnMessage = func(core.Connection, []byte) { got.Add(1) }
			a.OnConnect = func(c core.Connection) {
				a.PauseRecv()
				c.Send("flood", false)
			}
			a.Connect()
			time.Sleep(300 * time.Millisecond)
			if n := got.Load(); n != 0 {
				t.Fatalf("a paused client got %d lines", n)
			}
			read := a.Conn().BytesRead()
			if read > 1<<20 {
				t.Errorf("a paused client read %d KiB", read>>10)
			}
			t.Logf("%s: a paused client read %d KiB of %d", engine, read>>10, lineLen*count>>10)
			a.ResumeRecv()
			waitFor(t, "every line", func() bool { return got.Load() == count })
			a.Close("")
			ev.waitClose(t, 10*time.Second)

			b := core.NewAsyncConnection(addr, lines{})
			b.Server = g
			b.MaxPackageSize = 1024
			bev := watch(b)
			b.OnConnect = func(c core.Connection) { c.Send("big", false) }
			b.Connect()
			bev.waitClose(t, 10*time.Second)
			bev.get(func(e *clientEvents) bool {
				if len(e.codes) != 1 || e.codes[0] != core.ErrCodePackageTooLarge || len(e.msgs) != 0 {
					t.Errorf("codes %v errs %q msgs %d", e.codes, e.errs, len(e.msgs))
				}
				return true
			})
			waitLoopsStopped(t)
		})
	}
}

// A server that half-closes after its greeting still gets the client's
// answer to it, and the client closes once it is written.
func TestClientPeerHalfClose(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			g, _ := engineGoer(t, engine)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			heard := make(chan string, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					heard <- err.Error()
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				c.Write([]byte("hello\n"))
				c.(*net.TCPConn).CloseWrite()
				b, err := io.ReadAll(c)
				if err != nil {
					heard <- err.Error()
					return
				}
				heard <- string(b)
			}()
			a := core.NewAsyncConnection(ln.Addr().String(), lines{})
			a.Server = g
			ev := watch(a)
			a.OnMessage = func(c core.Connection, d []byte) {
				c.Send("answer to "+string(d)+" "+strings.Repeat("z", 1<<20), false)
			}
			a.Connect()
			select {
			case s := <-heard:
				if !strings.HasPrefix(s, "answer to hello ") || len(s) != len("answer to hello \n")+1<<20 {
					t.Errorf("the server heard %d bytes: %.40q", len(s), s)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("the server heard nothing")
			}
			ev.waitClose(t, 10*time.Second)
			ev.get(func(e *clientEvents) bool {
				if e.closes != 1 || len(e.errs) != 0 {
					t.Errorf("closes %d errs %q", e.closes, e.errs)
				}
				return true
			})
			waitLoopsStopped(t)
		})
	}
}

// TestTenThousandClients: 10,000 client connections from this process to
// one goes server in another, on the epoll engine: each sends a line and
// gets it back, then they stay idle on the loops, holding no goroutine.
// The clients come from several loopback addresses (BindTo), so that
// they do not all share one address's ephemeral ports.
func TestTenThousandClients(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 connections: not with -short")
	}
	const n, inFlight = 10000, 500
	addr := startEchoProcess(t)
	g, _ := engineGoer(t, "epoll") // the Server of the clients: their engine
	before := runtime.NumGoroutine()
	var answered, closed, failed atomic.Int32
	var firstErr atomic.Value
	clients := make([]*core.AsyncConnection, n)
	for i := range clients {
		// A bounded number of connects at a time: each has a goroutine of
		// core's until it is up (and -race allows 8,128 goroutines).
		for int(answered.Load()+failed.Load()) < i-inFlight {
			time.Sleep(time.Millisecond)
		}
		a := core.NewAsyncConnection(addr, lines{})
		a.Server = g
		a.BindTo = fmt.Sprint("127.0.0.", 2+i%8)
		a.ConnectTimeout = 30 * time.Second
		msg := fmt.Sprint("client ", i)
		a.OnConnect = func(c core.Connection) { c.Send(msg, false) }
		a.OnMessage = func(_ core.Connection, d []byte) {
			if string(d) != msg {
				firstErr.CompareAndSwap(nil, fmt.Sprintf("%s got %q", msg, d))
			}
			answered.Add(1)
		}
		a.OnError = func(_ core.Connection, code int, m string) {
			firstErr.CompareAndSwap(nil, fmt.Sprintf("%s: error %d: %s", msg, code, m))
			failed.Add(1)
		}
		a.OnClose = func(core.Connection) { closed.Add(1) }
		clients[i] = a
		a.Connect()
	}
	deadline := time.Now().Add(2 * time.Minute)
	for answered.Load()+failed.Load() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if e := firstErr.Load(); e != nil || answered.Load() != n {
		t.Fatalf("%d of %d answered, %d failed: %v", answered.Load(), n, failed.Load(), e)
	}
	time.Sleep(100 * time.Millisecond)
	extra := runtime.NumGoroutine() - before
	t.Logf("%d idle clients: %d more goroutines", n, extra)
	// A few loops and the watchdog, and the engine's idle workers (up to
	// 64, kept for handlers that were handed to workers under load): a
	// bound that does not grow with the clients.
	if extra > 200 {
		t.Errorf("%d idle clients hold %d goroutines", n, extra)
	}
	for _, a := range clients {
		a.Close("")
	}
	waitFor(t, "every client to close", func() bool { return closed.Load() == n })
	waitLoopsStopped(t)
}

// backlogListener is a listening socket with a backlog of 0 whose queue is
// full: a connect to it stays in progress (its SYN is dropped and sent
// again after a second) until the queue has room, or the socket closes.
type backlogListener struct {
	fd     int
	addr   string
	queued []net.Conn
}

func newBacklogListener(t *testing.T) *backlogListener {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := &backlogListener{fd: fd}
	t.Cleanup(func() { b.close() })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	b.addr = fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	for range 4 {
		c, err := net.DialTimeout("tcp", b.addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		b.queued = append(b.queued, c)
	}
	return b
}

// acceptAll takes every queued connection, making room for new ones.
func (b *backlogListener) acceptAll(t *testing.T) {
	for range b.queued {
		nfd, _, err := syscall.Accept4(b.fd, syscall.SOCK_CLOEXEC)
		if err != nil {
			t.Fatal(err)
		}
		syscall.Close(nfd)
	}
}

func (b *backlogListener) close() {
	if b.fd >= 0 {
		syscall.Close(b.fd)
		b.fd = -1
	}
	for _, c := range b.queued {
		c.Close()
	}
}

// A connect that is still in progress when connect returns completes
// later: the loop sees EPOLLOUT (the server made room) or an error (the
// server went away; its reset is a refusal), and wakes the dialer.
func TestClientConnectCompletesLater(t *testing.T) {
	for _, engine := range engines {
		for _, refuse := range []bool{false, true} {
			if engine == "goroutine" && !refuse {
				continue // net.Dialer's; it takes seconds (the SYN goes again after 1 s, 3 s, ...)
			}
			t.Run(fmt.Sprintf("%s/refused=%v", engine, refuse), func(t *testing.T) {
				g, _ := engineGoer(t, engine)
				b := newBacklogListener(t)
				a := core.NewAsyncConnection(b.addr, nil)
				a.Server = g
				a.ConnectTimeout = 10 * time.Second
				ev := watch(a)
				a.Connect()
				time.Sleep(100 * time.Millisecond)
				if st := a.State(); st != core.StateConnecting {
					t.Fatalf("state %s, want %s", st, core.StateConnecting)
				}
				if refuse {
					b.close()
				} else {
					b.acceptAll(t)
				}
				// The SYN goes again a second after the first, then after 3 s, ...
				if refuse {
					ev.waitClose(t, 8*time.Second)
				} else {
					waitFor(t, "the connect", func() bool { return ev.get(func(e *clientEvents) bool { return e.connects == 1 }) })
					if !tcp.OnLoop(a.Conn().Socket()) != (engine == "goroutine") {
						t.Errorf("%s: served on a loop: %v", engine, tcp.OnLoop(a.Conn().Socket()))
					}
					a.Close("")
					ev.waitClose(t, 8*time.Second)
				}
				ev.get(func(e *clientEvents) bool {
					ok := len(e.codes) == 0 && e.connects == 1
					if refuse {
						ok = len(e.codes) == 1 && e.codes[0] == core.ErrCodeConnectFail && strings.Contains(e.errs[0], "refused") && e.connects == 0
					}
					if !ok {
						t.Errorf("connects %d codes %v errs %q", e.connects, e.codes, e.errs)
					}
					return true
				})
				waitLoopsStopped(t)
			})
		}
	}
}

// unix:// and IPv6 clients run on the loops too, and know their addresses.
func TestClientUnixAndIPv6OnLoop(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			u := core.NewGoer(filepath.Join(t.TempDir(), "echo.sock"), lines{}, "unix")
			u.Engine = engine
			u.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(d, false) }
			targets := []string{"unix://" + start(t, u)}
			if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
				ln.Close()
				g6 := core.NewGoer("[::1]:0", lines{}, "tcp6")
				g6.Engine = engine
				g6.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(d, false) }
				targets = append(targets, "tcp6://"+start(t, g6))
			} else {
				t.Logf("no IPv6 loopback: %v", err)
			}
			for _, target := range targets {
				a := core.NewAsyncConnection(target, lines{})
				a.Server = u
				ev := watch(a)
				a.OnConnect = func(c core.Connection) { c.Send("over "+target, false) }
				a.Connect()
				waitFor(t, "the echo", func() bool { return ev.get(func(e *clientEvents) bool { return len(e.msgs) == 1 }) })
				c := a.Conn()
				if on := tcp.OnLoop(c.Socket()); on != (engine == "epoll") {
					t.Errorf("%s on %s: on a loop: %v", target, engine, on)
				}
				_, want, _ := strings.Cut(target, "://")
				if got := a.GetRemoteAddress(); got != want {
					t.Errorf("%s: remote address %q", target, got)
				}
				if strings.HasPrefix(target, "tcp6") && (a.GetLocalIP() != "::1" || a.GetLocalPort() == 0) {
					t.Errorf("%s: local address %q", target, a.GetLocalAddress())
				}
				a.Close("")
				ev.waitClose(t, 10*time.Second)
				ev.get(func(e *clientEvents) bool {
					if e.msgs[0] != "over "+target || len(e.errs) != 0 {
						t.Errorf("%s: msgs %q errs %q", target, e.msgs, e.errs)
					}
					return true
				})
			}
			waitLoopsStopped(t)
		})
	}
}
