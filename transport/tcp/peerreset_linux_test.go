package tcp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/transport/tcp"
)

// A peer that resets its connection (a close with SO_LINGER 0, or with
// bytes it never read) ends it with an error on both engines, never with
// what passes for a clean close: OnError reports it (ErrCodeIO) before
// OnClose, whether the connection was idle, writing to the peer, or paused
// when the reset came. The kernel reports a reset once, to whichever call
// asks first (a read, a write, a splice): the engine must not lose it to
// the one that did not report it.

// resetEnd is what the server saw of one connection's end: the I/O errors
// reported before OnClose.
type resetEnd struct{ errs []string }

func (e resetEnd) reset() bool { return len(e.errs) > 0 }

// resetServer serves raw bytes on engine; setup runs in OnConnect. Each
// connection's end comes out of ends at its OnClose.
func resetServer(t *testing.T, engine string, setup func(*core.TCPConnection)) (addr string, conns <-chan *core.TCPConnection, ends <-chan resetEnd) {
	t.Helper()
	connCh, endCh := make(chan *core.TCPConnection, 1), make(chan resetEnd, 1)
	var mu sync.Mutex
	errs := map[int][]string{}
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.Engine = engine
	g.CloseTimeout = 2 * time.Second
	g.MaxSendBufferSize = 32 << 20
	g.OnConnect = func(c core.Connection) {
		tc := c.(*core.TCPConnection)
		if setup != nil {
			setup(tc)
		}
		connCh <- tc
	}
	g.OnMessage = func(core.Connection, []byte) {}
	g.OnError = func(c core.Connection, code int, msg string) {
		if code != core.ErrCodeIO {
			return
		}
		mu.Lock()
		id := c.(*core.TCPConnection).ID
		errs[id] = append(errs[id], msg)
		mu.Unlock()
	}
	g.OnClose = func(c core.Connection) {
		mu.Lock()
		id := c.(*core.TCPConnection).ID
		e := resetEnd{errs[id]}
		delete(errs, id)
		mu.Unlock()
		endCh <- e
	}
	return start(t, g), connCh, endCh
}

// resetConn ends c with a reset: SO_LINGER 0, then the close.
func resetConn(c net.Conn) {
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
}

// TestPeerResetIsAnError: many connections, each reset by its peer, in
// turns: while the server is idle (after a message, or with bytes sent
// that the peer never read), while it writes to the peer, and while the
// connection is paused (with or without bytes unread). Every end must be
// reported as an error.
func TestPeerResetIsAnError(t *testing.T) {
	const rounds, budget = 24, 8 * time.Second
	big := bytes.Repeat([]byte{'x'}, 8<<20)
	for _, engine := range bothEngines {
		for _, sc := range []struct {
			name  string
			setup func(*core.TCPConnection)
			// peer acts on the client's side; it returns once the reset
			// was sent.
			peer func(t *testing.T, c net.Conn, tc *core.TCPConnection, i int)
		}{
			{"idle", nil, func(t *testing.T, c net.Conn, tc *core.TCPConnection, i int) {
				if _, err := c.Write([]byte("hello")); err != nil {
					t.Fatal(err)
				}
				waitFor(t, "the message", func() bool { return tc.BytesRead() == 5 })
				time.Sleep(time.Duration(i%4) * time.Millisecond)
				resetConn(c)
			}},
			{"unread", func(tc *core.TCPConnection) { tc.SendBytes([]byte("welcome"), true) },
				func(t *testing.T, c net.Conn, tc *core.TCPConnection, i int) {
					// A plain close: the welcome, never read, makes it a reset.
					waitFor(t, "the welcome", func() bool { return tc.BytesWritten() == 7 })
					time.Sleep(time.Duration(i%3) * time.Millisecond)
					c.Close()
				}},
			{"writing", func(tc *core.TCPConnection) { tc.SendBytes(big, true) },
				func(t *testing.T, c net.Conn, tc *core.TCPConnection, i int) {
					if _, err := io.ReadFull(c, make([]byte, 64<<10)); err != nil {
						t.Fatal(err)
					}
					time.Sleep(time.Duration(i%4) * time.Millisecond)
					resetConn(c)
				}},
			{"paused", func(tc *core.TCPConnection) { tc.PauseRecv() },
				func(t *testing.T, c net.Conn, tc *core.TCPConnection, i int) {
					if i%2 == 1 { // bytes the paused server does not read
						if _, err := c.Write(bytes.Repeat([]byte{'y'}, 4<<10)); err != nil {
							t.Fatal(err)
						}
					}
					time.Sleep(time.Duration(i%3) * time.Millisecond)
					resetConn(c)
					time.Sleep(20 * time.Millisecond) // the reset reaches the paused server
					tc.ResumeRecv()
				}},
		} {
			t.Run(engine+"/"+sc.name, func(t *testing.T) {
				addr, conns, ends := resetServer(t, engine, sc.setup)
				var bad []string
				deadline := time.Now().Add(budget)
				n := 0
				for ; n < rounds && time.Now().Before(deadline); n++ {
					c := dial(t, addr)
					var tc *core.TCPConnection
					select {
					case tc = <-conns:
					case <-time.After(10 * time.Second):
						t.Fatal("no OnConnect")
					}
					sc.peer(t, c, tc, n)
					t0 := time.Now()
					select {
					case e := <-ends:
						if !e.reset() {
							bad = append(bad, fmt.Sprintf("round %d (%v, wrote %d)", n, time.Since(t0), tc.BytesWritten()))
						} else if n == 0 {
							t.Logf("reported: %s", strings.Join(e.errs, "; "))
						}
					case <-time.After(10 * time.Second):
						t.Fatalf("round %d: no OnClose after the reset", n)
					}
				}
				if len(bad) > 0 {
					t.Fatalf("%d of %d resets ended as a clean close (no OnError): %s", len(bad), n, strings.Join(bad, ", "))
				}
				t.Logf("%d resets, each reported", n)
			})
		}
	}
}

// resetProxy is a two-way Pipe proxy (as examples/proxy) in front of a
// backend listener; it counts the I/O errors reported on either side.
type resetProxy struct {
	g                   *core.Goer
	backend             chan net.Conn
	front               atomic.Pointer[core.TCPConnection]
	back                atomic.Pointer[core.AsyncConnection]
	clients             atomic.Int32
	frontErrs, backErrs atomic.Int32
}

// newResetProxy starts the proxy and its backend. With small, the
// proxy's send buffers and the backend's receive buffer are a few KiB:
// the queues fill soon.
func newResetProxy(t *testing.T, engine string, closeTimeout time.Duration, small bool) (*resetProxy, string) {
	t.Helper()
	var lc net.ListenConfig
	if small {
		lc.Control = smallRcvbuf
	}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &resetProxy{g: core.NewGoer("127.0.0.1:0", nil, "tcp"), backend: make(chan net.Conn, 1)}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			b, err := ln.Accept()
			if err != nil {
				return
			}
			b.SetDeadline(time.Now().Add(time.Minute))
			p.backend <- b
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	backend := ln.Addr().String()
	p.g.Engine = engine
	p.g.MaxSendBufferSize = 256 << 10
	p.g.CloseTimeout = closeTimeout
	p.g.OnError = func(_ core.Connection, code int, _ string) {
		if code == core.ErrCodeIO {
			p.frontErrs.Add(1)
		}
	}
	p.g.OnConnect = func(c core.Connection) {
		a := core.NewAsyncConnection("tcp://"+backend, nil)
		a.Server = p.g
		a.MaxSendBufferSize = p.g.MaxSendBufferSize
		a.CloseTimeout = closeTimeout
		a.OnConnect = func(core.Connection) {
			if small {
				tcp.SetSendBuffer(a.Conn().Socket(), 4096)
			}
			p.clients.Add(1)
		}
		a.OnClose = func(core.Connection) { p.clients.Add(-1) }
		a.OnError = func(_ core.Connection, code int, _ string) {
			if code == core.ErrCodeIO {
				p.backErrs.Add(1)
			}
		}
		src := c.(*core.TCPConnection)
		if small {
			tcp.SetSendBuffer(src.Socket(), 4096)
		}
		p.front.Store(src)
		p.back.Store(a)
		src.Pipe(a)
		a.Pipe(src)
		a.Connect()
	}
	return p, start(t, p.g)
}

// smallRcvbuf is a net.Dialer's or net.ListenConfig's Control: a receive
// buffer of a few KiB.
func smallRcvbuf(_, _ string, rc syscall.RawConn) error {
	return rc.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	})
}

// pairClosed waits up to d for both sides of the proxied pair to close.
func (p *resetProxy) pairClosed(d time.Duration) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if p.clients.Load() == 0 && p.g.Connections.Len() == 0 {
			return true
		}
	}
	return false
}

// readEnd reads c until its stream ends, within d: an EOF or a reset.
func readEnd(c net.Conn, d time.Duration) error {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		return err
	}
	return nil
}

// TestPipePeerReset: a proxied pair whose backend (or client) resets its
// connection closes both sides at once, on both engines: the other peer
// sees its stream end, and the proxy's pair closes within CloseTimeout
// without that peer doing anything more (an EOF would pass through as a
// half-close and leave the pair open until the other peer ends too). The
// reset is reported (OnError, ErrCodeIO) on the side it came from. In
// turns: the pair idle; the proxy writing to the peer that resets, which
// never reads (on epoll, the splice path); the direction from that peer
// paused by a full queue while it floods (bytes unread at the reset);
// and paused after the proxy read everything it sent (nothing unread).
func TestPipePeerReset(t *testing.T) {
	const rounds, budget = 4, 8 * time.Second
	const closeTimeout = 150 * time.Millisecond
	flood := bytes.Repeat([]byte{'z'}, 16<<20)
	for _, engine := range engines {
		for _, side := range []string{"backend", "client"} {
			for _, how := range []string{"idle", "writing", "paused", "drained"} {
				t.Run(engine+"/"+side+"/"+how, func(t *testing.T) {
					small := how == "drained"
					p, addr := newResetProxy(t, engine, closeTimeout, small)
					deadline := time.Now().Add(budget)
					n := 0
					for ; n < rounds && time.Now().Before(deadline); n++ {
						p.frontErrs.Store(0)
						p.backErrs.Store(0)
						d := net.Dialer{Timeout: 5 * time.Second}
						if small {
							d.Control = smallRcvbuf
						}
						c, err := d.Dial("tcp", addr)
						if err != nil {
							t.Fatal(err)
						}
						c.SetDeadline(time.Now().Add(20 * time.Second))
						var b net.Conn
						select {
						case b = <-p.backend:
						case <-time.After(10 * time.Second):
							c.Close()
							t.Fatal("the proxy never connected to the backend")
						}
						// Traffic both ways first.
						for _, d := range [][2]net.Conn{{c, b}, {b, c}} {
							if _, err := d[0].Write([]byte("ping")); err != nil {
								t.Fatal(err)
							}
							if _, err := io.ReadFull(d[1], make([]byte, 4)); err != nil {
								t.Fatal(err)
							}
						}
						resetter, other := b, c
						errs, src := &p.backErrs, p.back.Load().Conn()
						if side == "client" {
							resetter, other, errs, src = c, b, &p.frontErrs, p.front.Load()
						}
						writing := make(chan struct{})
						switch how {
						case "idle":
							close(writing)
							time.Sleep(time.Duration(n%4) * time.Millisecond)
						case "writing": // the other peer floods the one that resets, which never reads
							go func() { other.Write(flood); close(writing) }()
							time.Sleep(time.Duration(20+n%4*10) * time.Millisecond)
						case "paused": // the one that resets floods the other, which does not read yet
							go func() { resetter.Write(flood); close(writing) }()
							waitFor(t, "the pause", src.IsPaused)
							time.Sleep(time.Duration(n%4) * time.Millisecond)
						case "drained":
							// The queue toward the other peer, which does not
							// read yet, filled from elsewhere up to a little
							// below its limit; then the peer that resets sends
							// a few KiB: the proxy reads them all, and the
							// forward fills the queue: paused with nothing
							// unread when the reset comes.
							dst := p.front.Load()
							if side == "client" {
								dst = p.back.Load().Conn()
							}
							dst.SendBytes(flood[:p.g.MaxSendBufferSize-16<<10], true)
							go func() { resetter.Write(flood[:32<<10]); close(writing) }()
							waitFor(t, "the pause", src.IsPaused)
							<-writing
							time.Sleep(time.Duration(5+n%4) * time.Millisecond)
							if u := tcp.Unread(src.Socket()); u != 0 {
								t.Logf("round %d: %d bytes unread at the reset", n, u)
							}
						}
						resetConn(resetter)
						if how == "paused" || how == "drained" {
							// Nothing ends a paused connection: the reset
							// is seen once the other peer reads the rest.
							time.Sleep(50 * time.Millisecond)
						}
						if err := readEnd(other, 5*time.Second); err != nil {
							t.Fatalf("round %d: the other peer's read: %v", n, err)
						}
						if !p.pairClosed(3 * time.Second) {
							t.Fatalf("round %d: the pair is still open 3 s after the %s's reset (client side %d, accepted side %d)",
								n, side, p.clients.Load(), p.g.Connections.Len())
						}
						if errs.Load() == 0 {
							t.Fatalf("round %d: the %s's reset was not reported (OnError)", n, side)
						}
						other.Close()
						<-writing
					}
					t.Logf("%d resets", n)
				})
			}
		}
	}
}

// TestPeerEOFThenResetWhilePaused: a peer that half-closes (its EOF) and
// only then resets, while the connection is paused, ended cleanly: the
// EOF came first, and a read reports it, not the reset, on both engines.
func TestPeerEOFThenResetWhilePaused(t *testing.T) {
	const rounds = 8
	for _, engine := range bothEngines {
		t.Run(engine, func(t *testing.T) {
			addr, conns, ends := resetServer(t, engine, func(tc *core.TCPConnection) { tc.PauseRecv() })
			for n := range rounds {
				c := dial(t, addr)
				tc := <-conns
				c.(*net.TCPConn).CloseWrite()
				time.Sleep(time.Duration(5+n%3) * time.Millisecond)
				resetConn(c)
				time.Sleep(20 * time.Millisecond) // both reach the paused server
				tc.ResumeRecv()
				select {
				case e := <-ends:
					if e.reset() {
						t.Fatalf("round %d: an EOF, then a reset, reported as %q", n, e.errs)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("round %d: no OnClose", n)
				}
			}
		})
	}
}
