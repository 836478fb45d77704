package core

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"
)

// gateSocket takes only the bytes the test lets through (grant), like a
// peer that reads late. notify: it is a WriteNotifier (the epoll engine's
// way, Stream.Writable after a grant); otherwise Write blocks (a flusher
// goroutine's way).
type gateSocket struct {
	notify bool
	s      *Stream // for Writable

	mu      sync.Mutex
	cond    *sync.Cond
	allowed int
	want    bool // NotifyWritable was asked
	closed  bool
	got     bytes.Buffer
}

func newGate(notify bool) *gateSocket {
	g := &gateSocket{notify: notify}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// writeLocked takes what is allowed of b.
func (g *gateSocket) writeLocked(b []byte) int {
	n := min(g.allowed, len(b))
	g.allowed -= n
	g.got.Write(b[:n])
	return n
}

func (g *gateSocket) Write(b []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	total := 0
	for total < len(b) {
		for g.allowed == 0 && !g.closed {
			g.cond.Wait()
		}
		if g.closed {
			return total, net.ErrClosed
		}
		total += g.writeLocked(b[total:])
	}
	return total, nil
}

func (g *gateSocket) grant(n int) {
	g.mu.Lock()
	g.allowed += n
	want := g.want
	g.want = false
	g.cond.Broadcast()
	g.mu.Unlock()
	if want {
		g.s.Writable()
	}
}

func (g *gateSocket) written() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.got.Len()
}

func (g *gateSocket) Close() error {
	g.mu.Lock()
	g.closed = true
	g.cond.Broadcast()
	g.mu.Unlock()
	return nil
}

func (g *gateSocket) LocalAddr() net.Addr  { return &net.TCPAddr{} }
func (g *gateSocket) RemoteAddr() net.Addr { return &net.TCPAddr{} }

// notifyGate is a gateSocket that writes without blocking.
type notifyGate struct{ *gateSocket }

func (g notifyGate) TryWrite(b []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return 0, net.ErrClosed
	}
	return g.writeLocked(b), nil
}

func (g notifyGate) NotifyWritable() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.want = true
	return !g.closed
}

// TestPipeResumesAtLowWater: a piped source that filled its destination's
// queue reads on once the queue is below half the limit, not once it is
// empty, so that it refills the queue while the rest is written; the
// queue never holds more than the limit plus one message, and the bytes
// arrive whole and in order. Both ways of writing: a flusher goroutine
// (the goroutine engine, TLS) and the engine's write notice (epoll).
func TestPipeResumesAtLowWater(t *testing.T) {
	for _, notify := range []bool{false, true} {
		name := map[bool]string{false: "flusher", true: "write notice"}[notify]
		t.Run(name, func(t *testing.T) {
			const limit, chunk, total = 1 << 20, 64 << 10, 8 << 20
			g := NewGoer("127.0.0.1:0", nil, "tcp")
			g.MaxSendBufferSize = limit
			g.setDefaults()
			gate := newGate(notify)
			var sock Socket = gate
			if notify {
				sock = notifyGate{gate}
			}
			src := newTCPConnection(g, &sinkSocket{})
			dst := newTCPConnection(g, sock)
			gate.s = (*Stream)(dst)
			src.Pipe(dst)
			defer func() {
				gate.Close()
				dst.Destroy()
				src.Destroy()
			}()

			var sent bytes.Buffer
			next := byte(0)
			feed := func() bool { // one read of src's peer
				b := make([]byte, chunk)
				for i := range b {
					b[i] = next
					next++
				}
				sent.Write(b)
				return (*Stream)(src).Received(b)
			}
			granted, resumedAbove0 := 0, 0
			peak := 0
			for sent.Len() < total {
				if feed() {
					if q := dst.SendQueueSize(); q > peak {
						peak = q
					}
					continue
				}
				// Paused: the destination's queue is at its limit.
				q := dst.SendQueueSize()
				peak = max(peak, q)
				if !src.IsPaused() || q < limit {
					t.Fatalf("Received reported a pause: paused %v, queue %d", src.IsPaused(), q)
				}
				// The peer reads a little at a time. Until the queue is
				// below half the limit the source stays paused.
				for src.IsPaused() {
					granted += chunk
					gate.grant(chunk)
					waitUntil(t, "the grant to be written", func() bool {
						return gate.written() >= granted || !src.IsPaused()
					})
					if q := dst.SendQueueSize(); src.IsPaused() && q < limit/2 {
						// The flusher may not have looked yet.
						waitUntil(t, "the resume below low water", func() bool { return !src.IsPaused() })
					}
				}
				q = dst.SendQueueSize()
				if q >= limit/2 {
					t.Fatalf("resumed with %d bytes queued, at or above the low-water mark %d", q, limit/2)
				}
				if q > 0 {
					resumedAbove0++
				}
				(*Stream)(src).WaitResume()
			}
			gate.grant(total)
			waitUntil(t, "everything written", func() bool { return gate.written() == total })
			if !bytes.Equal(gate.got.Bytes(), sent.Bytes()) {
				t.Fatal("the destination wrote other bytes than the source received")
			}
			if peak > limit+chunk {
				t.Errorf("the queue held %d bytes, limit %d plus one message of %d", peak, limit, chunk)
			}
			if resumedAbove0 == 0 {
				t.Error("the source never resumed before the queue was empty")
			}
			t.Logf("peak queue %d, %d resumes with bytes still queued", peak, resumedAbove0)
		})
	}
}

// gateDialer connects "gate://" client connections to a gateSocket once
// release is closed.
type gateDialer struct {
	release chan struct{}
	gate    *gateSocket
	done    chan struct{} // closed when the gate is
}

func (d *gateDialer) Dial(ctx context.Context, _, _ string, _ *tls.Config) (Socket, error) {
	select {
	case <-d.release:
		return d.gate, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (d *gateDialer) Serve(s *Stream) {
	s.Open()
	<-d.done
	s.Closed(net.ErrClosed)
}

// TestPipeIntoConnecting: a pipe into a client connection that is still
// connecting pauses its source once the queue waiting for the connect is
// at the limit, and the source reads on below the low-water mark once
// the connection is up and writing; nothing is lost.
func TestPipeIntoConnecting(t *testing.T) {
	const limit, chunk = 256 << 10, 64 << 10
	gate := newGate(false)
	d := &gateDialer{release: make(chan struct{}), gate: gate, done: make(chan struct{})}
	RegisterDialer(d, "gate")
	g := NewGoer("127.0.0.1:0", nil, "tcp")
	g.setDefaults()
	src := newTCPConnection(g, &sinkSocket{})
	a := NewAsyncConnection("gate://backend", nil)
	a.MaxSendBufferSize = limit
	closed := make(chan struct{})
	a.OnClose = func(Connection) { close(closed) }
	src.Pipe(a)
	a.Connect()
	defer func() {
		src.Destroy()
		a.Destroy()
		gate.Close()
		close(d.done)
		<-closed
	}()

	var sent bytes.Buffer
	feed := func() bool {
		b := bytes.Repeat([]byte{byte(sent.Len() / chunk)}, chunk)
		sent.Write(b)
		return (*Stream)(src).Received(b)
	}
	for feed() {
		if sent.Len() > 2*limit {
			t.Fatal("the source was not paused by the queue waiting for the connect")
		}
	}
	if st, q := a.State(), a.SendQueueSize(); st != StateConnecting || q != limit || !src.IsPaused() {
		t.Fatalf("state %s, queue %d, paused %v", st, q, src.IsPaused())
	}
	close(d.release)
	waitUntil(t, "the connect", func() bool { return a.State() == StateOpen })
	for gate.written() < limit && src.IsPaused() {
		gate.grant(chunk / 4)
		time.Sleep(2 * time.Millisecond)
	}
	waitUntil(t, "the resume", func() bool { return !src.IsPaused() })
	if q := a.SendQueueSize(); q == 0 || q >= limit/2 {
		t.Errorf("resumed with %d bytes queued, want fewer than %d and more than none", q, limit/2)
	}
	(*Stream)(src).WaitResume()
	for range 8 {
		if !feed() {
			gate.grant(limit)
			(*Stream)(src).WaitResume()
		}
	}
	gate.grant(sent.Len())
	waitUntil(t, "everything written", func() bool { return gate.written() == sent.Len() })
	gate.mu.Lock()
	same := bytes.Equal(gate.got.Bytes(), sent.Bytes())
	gate.mu.Unlock()
	if !same {
		t.Fatal("the destination wrote other bytes than the source received")
	}
}
