package tcp_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/transport/tcp"
)

// A Pipe between two raw TCP connections on the epoll engine moves the
// bytes with splice(2) (epoll_splice_linux.go). These tests run a proxy
// (accepted connection piped both ways with a client connection, as
// examples/proxy) on both engines: the goroutine engine is the reference,
// and on epoll the fast path must have been taken.

// spliceProxy is a two-way Pipe proxy in front of backend.
type spliceProxy struct {
	g       *core.Goer
	front   atomic.Pointer[core.TCPConnection]
	back    atomic.Pointer[core.AsyncConnection]
	clients atomic.Int32
}

func newSpliceProxy(t *testing.T, engine, backend string, limit int, closeTimeout time.Duration) (*spliceProxy, string) {
	t.Helper()
	p := &spliceProxy{g: core.NewGoer("127.0.0.1:0", nil, "tcp")}
	p.g.Engine = engine
	p.g.MaxSendBufferSize = limit
	if closeTimeout > 0 {
		p.g.CloseTimeout = closeTimeout
	}
	p.g.OnConnect = func(c core.Connection) {
		a := core.NewAsyncConnection("tcp://"+backend, nil)
		a.Server = p.g
		a.MaxSendBufferSize = limit
		a.CloseTimeout = p.g.CloseTimeout
		a.OnConnect = func(core.Connection) { p.clients.Add(1) }
		a.OnClose = func(core.Connection) { p.clients.Add(-1) }
		src := c.(*core.TCPConnection)
		p.front.Store(src)
		p.back.Store(a)
		src.Pipe(a)
		a.Pipe(src)
		a.Connect()
	}
	return p, start(t, p.g)
}

// waitClosed waits for both sides of every proxied pair to close.
func (p *spliceProxy) waitClosed(t *testing.T) {
	t.Helper()
	waitFor(t, "the client side to close", func() bool { return p.clients.Load() == 0 })
	waitFor(t, "the accepted side to close", func() bool { return p.g.Connections.Len() == 0 })
}

// echoBackend is a net echo server; it stops with the test.
func echoBackend(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.SetDeadline(time.Now().Add(5 * time.Minute))
				// Not spliced: net's kernel pipes would stay open
				// in its pool, and the test counts descriptors.
				io.Copy(struct{ io.Writer }{c}, struct{ io.Reader }{c})
				c.Close()
			}()
		}
	}()
	return ln.Addr().String()
}

// pattern is n bytes of a counting stream, from byte offset off.
func pattern(off, n int) []byte {
	b := make([]byte, 0, n+8)
	for i := off / 8; len(b) < n+off%8; i++ {
		b = binary.BigEndian.AppendUint64(b, uint64(i))
	}
	return b[off%8 : off%8+n]
}

// expectSplices checks that the fast path was taken on epoll, and not on
// the goroutine engine.
func expectSplices(t *testing.T, engine string, before int64, atLeast int64) {
	t.Helper()
	n := tcp.Spliced() - before
	t.Logf("%s: %d reads spliced", engine, n)
	if engine == "epoll" && n < atLeast {
		t.Errorf("%d reads took the splice fast path, want at least %d", n, atLeast)
	}
	if engine != "epoll" && n != 0 {
		t.Errorf("the goroutine engine spliced %d reads", n)
	}
}

// TestSpliceChecksummed: a stream through the proxy to an echo and back
// (64 MiB, 1 GiB with GOES_PROXY_GIB=1) arrives whole; the counters of
// the accepted side say every byte was read and written; no descriptor is
// left behind.
func TestSpliceChecksummed(t *testing.T) {
	size := 64 << 20
	if os.Getenv("GOES_PROXY_GIB") == "1" {
		size = 1 << 30
	}
	backend := echoBackend(t)
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			files := openFiles(t)
			before := tcp.Spliced()
			p, addr := newSpliceProxy(t, engine, backend, 1<<20, 0)
			c := dial(t, addr)
			c.SetDeadline(time.Now().Add(5 * time.Minute))
			sent, got := sha256.New(), sha256.New()
			wrote := make(chan error, 1)
			go func() {
				_, err := io.CopyN(io.MultiWriter(c, sent), rand.Reader, int64(size))
				wrote <- err
			}()
			n, err := io.CopyN(got, c, int64(size))
			if werr := <-wrote; err != nil || werr != nil {
				t.Fatalf("read %d of %d: %v; write: %v", n, size, err, werr)
			}
			if !bytes.Equal(sent.Sum(nil), got.Sum(nil)) {
				t.Fatal("the bytes that came back differ")
			}
			front := p.front.Load()
			// A write is counted once it returns, maybe after the
			// client read its bytes.
			waitFor(t, "the last write to be counted", func() bool { return front.BytesWritten() >= int64(size) })
			if r, w := front.BytesRead(), front.BytesWritten(); r != int64(size) || w != int64(size) {
				t.Errorf("the accepted side counted %d bytes read and %d written, want %d each", r, w, size)
			}
			if r, w := p.g.Stats().BytesRead.Load(), p.g.Stats().BytesWritten.Load(); r != int64(size) || w != int64(size) {
				t.Errorf("the proxy's Goer counted %d bytes read and %d written, want %d each", r, w, size)
			}
			// Both directions: at least one splice per 256 KiB on average.
			expectSplices(t, engine, before, int64(2*size/(256<<10)))
			c.Close()
			p.waitClosed(t)
			p.g.Stop()
			waitLoopsStopped(t)
			// The echo backend closes its side when it sees the proxy's.
			waitFor(t, "the descriptors to close", func() bool { return openFiles(t) <= files })
		})
	}
}

// jammedBackend accepts one connection and hands it over; it reads only
// when the test does.
func jammedBackend(t *testing.T) (string, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan net.Conn, 1)
	go func() {
		b, err := ln.Accept()
		if err != nil {
			close(ch)
			return
		}
		// Small buffers, so that the proxy's queue fills soon.
		b.(*net.TCPConn).SetReadBuffer(64 << 10)
		b.SetDeadline(time.Now().Add(2 * time.Minute))
		ch <- b
	}()
	return ln.Addr().String(), ch
}

func acceptBackend(t *testing.T, ch <-chan net.Conn) net.Conn {
	t.Helper()
	select {
	case b, ok := <-ch:
		if !ok {
			t.Fatal("the backend accepted nothing")
		}
		t.Cleanup(func() { b.Close() })
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("the proxy never connected to the backend")
	}
	return nil
}

// settled waits until f stops changing for a while, and returns it.
func settled(t *testing.T, f func() int64) int64 {
	t.Helper()
	last, since := f(), time.Now()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if v := f(); v != last {
			last, since = v, time.Now()
		} else if time.Since(since) > 300*time.Millisecond {
			return v
		}
	}
	t.Fatal("the proxy never stopped reading")
	return 0
}

// TestSpliceBackpressure: a backend that does not read holds the proxy to
// its send limit (the accepted side stops reading); once it reads, it gets
// every byte in order, then the FIN.
func TestSpliceBackpressure(t *testing.T) {
	const limit = 256 << 10
	const size = 32 << 20
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			backend, accepted := jammedBackend(t)
			before := tcp.Spliced()
			p, addr := newSpliceProxy(t, engine, backend, limit, 0)
			c := dial(t, addr)
			c.SetDeadline(time.Now().Add(2 * time.Minute))
			b := acceptBackend(t, accepted)
			wrote := make(chan error, 1)
			go func() {
				_, err := c.Write(pattern(0, size))
				if err == nil {
					err = c.(*net.TCPConn).CloseWrite()
				}
				wrote <- err
			}()
			front := p.front.Load()
			read := settled(t, front.BytesRead)
			queued := p.back.Load().SendQueueSize()
			t.Logf("%s: the proxy read %d bytes, queued %d for the backend that does not read", engine, read, queued)
			if read >= size {
				t.Fatalf("the proxy read all %d bytes for a backend that does not read", size)
			}
			if queued > limit+64<<10 {
				t.Errorf("%d bytes queued for the backend, limit %d", queued, limit)
			}
			all, err := io.ReadAll(b)
			if err != nil {
				t.Fatalf("the backend read %d bytes: %v", len(all), err)
			}
			if werr := <-wrote; werr != nil {
				t.Fatalf("write: %v", werr)
			}
			if !bytes.Equal(all, pattern(0, size)) {
				t.Fatalf("the backend read %d bytes, not the %d sent in order", len(all), size)
			}
			expectSplices(t, engine, before, 1)
			c.Close()
			b.Close()
			p.waitClosed(t)
		})
	}
}

// TestSpliceSendOrder: a Send on the destination between piped bytes goes
// out between them, whether the destination's socket takes everything at
// once (the fast path) or its queue is backed up.
func TestSpliceSendOrder(t *testing.T) {
	const limit = 256 << 10
	for _, engine := range engines {
		for _, jammed := range []bool{false, true} {
			name := engine + "/reading"
			if jammed {
				name = engine + "/jammed"
			}
			t.Run(name, func(t *testing.T) {
				backend, accepted := jammedBackend(t)
				p, addr := newSpliceProxy(t, engine, backend, limit, 0)
				c := dial(t, addr)
				b := acceptBackend(t, accepted)
				var got bytes.Buffer
				readDone := make(chan error, 1)
				readAll := func() {
					_, err := io.Copy(&got, b)
					readDone <- err
				}
				if !jammed {
					go readAll()
				}
				a, m, z := pattern(0, 200<<10), []byte("--a message sent on the destination--"), pattern(1<<20, 300<<10)
				if _, err := c.Write(a); err != nil {
					t.Fatal(err)
				}
				front := p.front.Load()
				waitFor(t, "the proxy to read the first part", func() bool { return front.BytesRead() == int64(len(a)) })
				if !jammed {
					back := p.back.Load().Conn()
					waitFor(t, "the first part to be written", func() bool {
						return back != nil && back.BytesWritten() == int64(len(a))
					})
				}
				if err := p.back.Load().SendBytes(m, true); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Write(z); err != nil {
					t.Fatal(err)
				}
				c.(*net.TCPConn).CloseWrite()
				if jammed {
					time.Sleep(100 * time.Millisecond)
					go readAll()
				}
				if err := <-readDone; err != nil {
					t.Fatalf("backend read: %v", err)
				}
				want := append(append(append([]byte(nil), a...), m...), z...)
				if !bytes.Equal(got.Bytes(), want) {
					i := 0
					for i < min(got.Len(), len(want)) && got.Bytes()[i] == want[i] {
						i++
					}
					t.Fatalf("the backend read %d bytes, want %d; they differ from byte %d", got.Len(), len(want), i)
				}
				c.Close()
				b.Close()
				p.waitClosed(t)
			})
		}
	}
}

// TestSpliceReset: a reset on either side ends both sides of the pair:
// the other side's peer reads its stream to the end (an EOF, or a reset
// when the proxy could not flush in time), and the pair closes within
// CloseTimeout while that peer still holds its connection open.
func TestSpliceReset(t *testing.T) {
	for _, engine := range engines {
		for _, side := range []string{"client", "backend"} {
			t.Run(engine+"/"+side, func(t *testing.T) {
				backend, accepted := jammedBackend(t)
				p, addr := newSpliceProxy(t, engine, backend, 256<<10, 500*time.Millisecond)
				c := dial(t, addr)
				b := acceptBackend(t, accepted)
				// Traffic both ways first, through the fast path.
				if _, err := c.Write(pattern(0, 1<<20)); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(b, make([]byte, 1<<20)); err != nil {
					t.Fatal(err)
				}
				if _, err := b.Write(pattern(0, 1<<20)); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(c, make([]byte, 1<<20)); err != nil {
					t.Fatal(err)
				}
				reset, other := c, b
				if side == "backend" {
					reset, other = b, c
				}
				// More bytes in flight, then the reset.
				go reset.Write(pattern(0, 4<<20))
				time.Sleep(20 * time.Millisecond)
				reset.(*net.TCPConn).SetLinger(0)
				reset.Close()
				other.SetReadDeadline(time.Now().Add(20 * time.Second))
				if _, err := io.Copy(io.Discard, other); err != nil && !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("the other side's read ended with %v, want EOF or a reset", err)
				}
				// Not a half-close: the pair closes without the other side's
				// peer closing.
				p.waitClosed(t)
				other.Close()
			})
		}
	}
}

// TestSpliceCloseFlushes: the source closed (on the proxy) while bytes it
// read are still on their way: the destination gets every one of them,
// then the FIN; unless its peer does not read within CloseTimeout, which
// then resets it.
func TestSpliceCloseFlushes(t *testing.T) {
	const limit = 256 << 10
	for _, engine := range engines {
		for _, late := range []bool{false, true} {
			name := engine + "/in time"
			if late {
				name = engine + "/past CloseTimeout"
			}
			t.Run(name, func(t *testing.T) {
				backend, accepted := jammedBackend(t)
				p, addr := newSpliceProxy(t, engine, backend, limit, 300*time.Millisecond)
				c := dial(t, addr)
				b := acceptBackend(t, accepted)
				go c.Write(pattern(0, 8<<20))
				front := p.front.Load()
				read := settled(t, front.BytesRead)
				front.Close("")
				if late {
					time.Sleep(time.Second)
				}
				all, err := io.ReadAll(b)
				if late {
					if !errors.Is(err, syscall.ECONNRESET) {
						t.Fatalf("read %d bytes past CloseTimeout: %v, want a reset", len(all), err)
					}
				} else if err != nil || int64(len(all)) != read {
					t.Fatalf("the backend read %d bytes (%v), want the %d the proxy read, then EOF", len(all), err, read)
				}
				if !bytes.Equal(all, pattern(0, len(all))) {
					t.Fatal("the backend's bytes are not the stream in order")
				}
				p.waitClosed(t)
			})
		}
	}
}
