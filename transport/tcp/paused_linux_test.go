package tcp_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/transport/tcp"
)

// frameStream is n bytes of payload from a fixed seed, framed (frames{})
// in pieces of 1 byte to 8 KiB: the bytes on the wire and the payload.
func frameStream(n int) (wire, payload []byte) {
	r := rand.New(rand.NewChaCha8([32]byte{'g', 'o', 'e', 's'}))
	payload = make([]byte, n)
	for i := range payload {
		payload[i] = byte(r.Uint32())
	}
	for off := 0; off < n; {
		k := min(1+r.IntN(8<<10), n-off)
		wire = binary.BigEndian.AppendUint32(wire, uint32(k+4))
		wire = append(wire, payload[off:off+k]...)
		off += k
	}
	return wire, payload
}

// pausedPeer is a server's view of one connection that the tests pause:
// the payload delivered, in order, and whether OnClose ran.
type pausedPeer struct {
	conn   chan *core.TCPConnection
	closed chan struct{}
	mu     sync.Mutex
	got    []byte
}

func (p *pausedPeer) delivered() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.got
}

func (p *pausedPeer) isClosed() bool {
	select {
	case <-p.closed:
		return true
	default:
		return false
	}
}

// pausedServer serves frames{} on engine. Its connection pauses in
// OnConnect (pauseOn "connect": before anything is read) or in the
// OnMessage of its first message ("message").
func pausedServer(t *testing.T, engine, pauseOn string) (addr string, p *pausedPeer) {
	p = &pausedPeer{conn: make(chan *core.TCPConnection, 1), closed: make(chan struct{})}
	g := core.NewGoer("127.0.0.1:0", frames{}, "tcp")
	g.Engine = engine
	g.CloseTimeout = 5 * time.Second
	g.OnConnect = func(c core.Connection) {
		tc := c.(*core.TCPConnection)
		if pauseOn == "connect" {
			tc.PauseRecv()
		}
		p.conn <- tc
	}
	g.OnMessage = func(c core.Connection, d []byte) {
		p.mu.Lock()
		p.got = append(p.got, d...)
		first := len(p.got) == len(d)
		p.mu.Unlock()
		if first && pauseOn == "message" {
			c.(*core.TCPConnection).PauseRecv()
		}
	}
	g.OnClose = func(core.Connection) { close(p.closed) }
	return start(t, g), p
}

// flood writes wire to c from a goroutine; written counts what the kernel
// took so far, done reports the end.
func flood(c net.Conn, wire []byte) (written *atomic.Int64, done chan error) {
	written, done = new(atomic.Int64), make(chan error, 1)
	go func() {
		for off := 0; off < len(wire); {
			n, err := c.Write(wire[off:min(off+64<<10, len(wire))])
			off += n
			written.Store(int64(off))
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return written, done
}

// settle waits until the writer is done or has not moved for 300 ms
// (the kernels' buffers are full), 10 s at most.
func settle(written *atomic.Int64, done chan error) {
	last, since := written.Load(), time.Now()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if len(done) > 0 {
			return
		}
		if n := written.Load(); n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > 300*time.Millisecond {
			return
		}
	}
}

var bothEngines = []string{"epoll", "goroutine"}

// TestPausedPeerFlood: a paused connection whose peer sends 8 MiB. The
// server stops reading it at once: what the process holds for it (core's
// undecoded bytes and, on the epoll engine, what the loop read ahead) stays
// within a read or two, while the kernel's buffers and TCP's window hold
// the rest. Once resumed, every byte is delivered, in order.
func TestPausedPeerFlood(t *testing.T) {
	const total = 8 << 20
	wire, payload := frameStream(total)
	for _, engine := range bothEngines {
		for _, on := range []string{"connect", "message"} {
			t.Run(engine+"/paused on "+on, func(t *testing.T) {
				addr, p := pausedServer(t, engine, on)
				c := dial(t, addr)
				tc := <-p.conn
				written, done := flood(c, wire)
				waitFor(t, "the pause", tc.IsPaused)
				settle(written, done)
				time.Sleep(50 * time.Millisecond) // a loop that read on would have by now
				coreHeld, engHeld := tc.RecvQueueSize(), tcp.EngineHeld(tc.Socket())
				read, got := tc.BytesRead(), len(p.delivered())
				t.Logf("the peer wrote %d KiB; the server read %d KiB, delivered %d KiB, holds %d B undecoded and %d B read ahead",
					written.Load()>>10, read>>10, got>>10, coreHeld, engHeld)
				// A read (64 KiB at most) may have been under way as
				// the pause began, and a worker's buffer filled.
				if coreHeld > 64<<10 || engHeld > 64<<10 {
					t.Fatalf("%d B undecoded and %d B read ahead for a paused connection", coreHeld, engHeld)
				}
				if read > 128<<10 {
					t.Fatalf("read %d KiB of a paused connection", read>>10)
				}
				if !tc.IsPaused() {
					t.Fatal("not paused any more")
				}
				tc.ResumeRecv()
				select {
				case err := <-done:
					if err != nil {
						t.Fatalf("the peer's write: %v", err)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("the peer's write did not end after the resume")
				}
				waitFor(t, "every byte", func() bool { return len(p.delivered()) == total })
				if !bytes.Equal(p.delivered(), payload) {
					t.Fatal("the payload arrived changed or out of order")
				}
				c.Close()
				waitFor(t, "OnClose", p.isClosed)
			})
		}
	}
}

// TestPeerEndsWhilePaused: the peer of a paused connection sends, then
// half-closes (EOF) or resets. Nothing ends the connection while it is
// paused; once resumed, what the peer sent is delivered in order (all of
// it after an EOF, what the kernel kept after a reset), then OnClose.
func TestPeerEndsWhilePaused(t *testing.T) {
	const total = 32 << 10 // the kernel holds it unread
	wire, payload := frameStream(total)
	for _, engine := range bothEngines {
		for _, end := range []string{"eof", "reset"} {
			t.Run(engine+"/"+end, func(t *testing.T) {
				addr, p := pausedServer(t, engine, "connect")
				c := dial(t, addr)
				tc := <-p.conn
				if _, err := c.Write(wire); err != nil {
					t.Fatal(err)
				}
				time.Sleep(50 * time.Millisecond) // the bytes reach the server first
				if end == "eof" {
					c.(*net.TCPConn).CloseWrite()
				} else {
					c.(*net.TCPConn).SetLinger(0)
					c.Close()
				}
				time.Sleep(300 * time.Millisecond)
				if p.isClosed() {
					t.Fatal("OnClose while paused")
				}
				if n := len(p.delivered()); n != 0 {
					t.Fatalf("%d bytes delivered while paused", n)
				}
				tc.ResumeRecv()
				select {
				case <-p.closed:
				case <-time.After(5 * time.Second):
					t.Fatal("no OnClose after the resume")
				}
				got := p.delivered()
				if end == "eof" && !bytes.Equal(got, payload) {
					t.Fatalf("delivered %d of %d bytes before the EOF, or out of order", len(got), total)
				}
				if !bytes.HasPrefix(payload, got) {
					t.Fatal("the payload arrived changed or out of order")
				}
				t.Logf("%d of %d bytes delivered", len(got), total)
			})
		}
	}
}

// TestClosePausedConnection: Close (or Destroy) of a paused connection
// whose peer keeps sending ends it without a resume and without waiting
// for CloseTimeout: the peer sees the close at once (a Close's FIN), and
// OnClose follows once the peer has gone (a Destroy's at once); nothing
// more is delivered.
func TestClosePausedConnection(t *testing.T) {
	wire, _ := frameStream(8 << 20)
	for _, engine := range bothEngines {
		for _, how := range []string{"close", "destroy"} {
			t.Run(engine+"/"+how, func(t *testing.T) {
				addr, p := pausedServer(t, engine, "connect")
				c := dial(t, addr)
				tc := <-p.conn
				written, done := flood(c, wire)
				settle(written, done)
				begin := time.Now()
				if how == "close" {
					// A Close ends the write side at once (nothing is
					// queued) and reads on until the peer's EOF.
					tc.Close("")
					c.SetReadDeadline(time.Now().Add(4 * time.Second))
					if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
						t.Fatalf("the peer read %d bytes, %v; want EOF", n, err)
					}
					c.Close()
				} else {
					tc.Destroy()
				}
				select {
				case <-p.closed:
				case <-time.After(4 * time.Second):
					t.Fatal("no OnClose after closing a paused connection")
				}
				if el := time.Since(begin); el > 2*time.Second {
					t.Fatalf("OnClose %v after the close", el)
				}
				if n := len(p.delivered()); n != 0 {
					t.Fatalf("%d bytes delivered after the close of a paused connection", n)
				}
				c.Close()
				<-done
			})
		}
	}
}

// TestManyPausedConnectionsHoldNoGoroutine: connections paused by
// backpressure (their peers do not read the echoes) cost no goroutine each
// on the epoll engine; once their peers read, they resume and every echo
// arrives whole and in order. (The goroutine engine has a goroutine per
// connection whatever its state.)
func TestManyPausedConnectionsHoldNoGoroutine(t *testing.T) {
	const conns, msgs, size = 200, 6, 32 << 10
	var wire []byte
	for i := range msgs {
		wire = binary.BigEndian.AppendUint32(wire, size+4)
		wire = append(wire, bytes.Repeat([]byte{'a' + byte(i)}, size)...)
	}
	var echo []byte // every message comes back twice
	for i := range msgs {
		for range 2 {
			echo = append(echo, wire[i*(size+4):(i+1)*(size+4)]...)
		}
	}
	g := core.NewGoer("127.0.0.1:0", frames{}, "tcp")
	g.Engine = "epoll"
	g.MaxSendBufferSize = 64 << 10
	g.SendHighWater = 32 << 10
	g.OnConnect = func(c core.Connection) {
		// The kernel takes a few KiB of echoes: the queue does the rest.
		if err := tcp.SetSendBuffer(c.(*core.TCPConnection).Socket(), 4096); err != nil {
			t.Error(err)
		}
	}
	g.OnMessage = func(c core.Connection, d []byte) {
		c.SendBytes(d, false)
		c.SendBytes(d, false)
	}
	addr := start(t, g)
	time.Sleep(50 * time.Millisecond)
	base := runtime.NumGoroutine()
	peers := make([]net.Conn, conns)
	t0 := time.Now()
	for i := range peers {
		c := dial(t, addr)
		if _, err := c.Write(wire); err != nil {
			t.Fatal(err)
		}
		peers[i] = c
	}
	countPaused := func() (n int) {
		g.Connections.Range(func(_ int, c *core.TCPConnection) bool {
			if c.IsPaused() {
				n++
			}
			return true
		})
		return n
	}
	waitFor(t, "every connection to pause", func() bool { return countPaused() == conns })
	// The engine keeps up to 64 idle workers for the connections to come:
	// they may count here, a goroutine per paused connection may not.
	var n int
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		n = runtime.NumGoroutine() - base
		if n < conns/2 || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("%d paused connections, %d goroutines more than before them (%v)", conns, n, time.Since(t0))
	if n >= conns/2 {
		t.Fatalf("%d goroutines for %d paused connections", n, conns)
	}
	g.Connections.Range(func(_ int, c *core.TCPConnection) bool {
		tcp.SetSendBuffer(c.Socket(), 256<<10) // for a quicker read back
		return true
	})
	for i, c := range peers {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got := make([]byte, len(echo))
		if n, err := io.ReadFull(c, got); err != nil {
			g.Connections.Range(func(_ int, tc *core.TCPConnection) bool {
				if tc.GetRemotePort() == c.LocalAddr().(*net.TCPAddr).Port {
					t.Logf("conn: paused %v, queue %d, read %d, written %d, %s", tc.IsPaused(), tc.SendQueueSize(), tc.BytesRead(), tc.BytesWritten(), tcp.EngineState(tc.Socket()))
				}
				return true
			})
			t.Fatalf("peer %d: %v after %d", i, err, n)
		}
		if !bytes.Equal(got, echo) {
			t.Fatalf("peer %d: the echoes arrived changed or out of order", i)
		}
	}
	t.Logf("echoed (%v)", time.Since(t0))
}
