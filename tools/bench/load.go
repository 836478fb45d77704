package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// exchanger is one client connection doing request/response round trips.
type exchanger interface {
	exchange() error
	net.Conn
}

// window is the measured part of a run: the harness samples the server's
// CPU time at its start and end.
type window struct {
	warmup, duration time.Duration
	begin, end       func() // called at the window's edges
}

// loopResult is what a request/response load measured inside its window.
type loopResult struct {
	msgs      uint64
	elapsed   time.Duration
	stretched time.Duration // the window went on this long for a first round trip
	lat       histogram
	errors    int
	firstErr  error
}

// maxStretch bounds how long runLoop stretches a window in which no round
// trip completed.
const maxStretch = 10 * time.Second

// runLoop drives every connection in a tight request/response loop:
// warm-up, then the window, counting round trips and their latencies. A
// window so short (or a machine so busy) that no round trip completed in it
// goes on until one does, up to maxStretch: stretched reports by how much.
func runLoop(conns []exchanger, w window) loopResult {
	var recording, stopping atomic.Bool
	var completed atomic.Uint64 // round trips completed in the window
	var ended atomic.Int64      // connections whose loop ended on an error
	type local struct {
		n   uint64
		lat histogram
		err error
	}
	locals := make([]local, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := &locals[i]
			for !stopping.Load() {
				rec := recording.Load()
				t0 := time.Now()
				if err := c.exchange(); err != nil {
					if !stopping.Load() {
						l.err = err
					}
					ended.Add(1)
					return
				}
				if rec {
					l.lat.record(time.Since(t0))
					l.n++
					completed.Add(1)
				}
			}
		}()
	}
	time.Sleep(w.warmup)
	if w.begin != nil {
		w.begin()
	}
	start := time.Now()
	recording.Store(true)
	time.Sleep(w.duration)
	var stretched time.Duration
	if completed.Load() == 0 {
		for limit := time.Now().Add(maxStretch); completed.Load() == 0 && ended.Load() < int64(len(conns)) && time.Now().Before(limit); {
			time.Sleep(time.Millisecond)
		}
		stretched = time.Since(start) - w.duration
	}
	recording.Store(false)
	elapsed := time.Since(start)
	if w.end != nil {
		w.end()
	}
	stopping.Store(true)
	// A round trip in flight finishes or fails on its deadline.
	for _, c := range conns {
		c.SetDeadline(time.Now().Add(2 * time.Second))
	}
	wg.Wait()
	var r loopResult
	r.elapsed, r.stretched = elapsed, stretched
	for i := range locals {
		r.msgs += locals[i].n
		r.lat.merge(&locals[i].lat)
		if locals[i].err != nil {
			r.errors++
			if r.firstErr == nil {
				r.firstErr = locals[i].err
			}
		}
	}
	return r
}

// closeAll closes conns with a reset, so no TIME_WAIT is left behind to
// block the next run's source ports.
func closeAll[C net.Conn](conns []C) {
	for _, c := range conns {
		if tc, ok := any(c).(interface{ SetLinger(int) error }); ok {
			tc.SetLinger(0)
		} else if nc, ok := any(c).(interface{ NetConn() net.Conn }); ok {
			if tc, ok := nc.NetConn().(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
		}
		c.Close()
	}
}

// dialer opens client connections, spreading them over several loopback
// source addresses (127.0.0.2, 127.0.0.3, ...) when srcAddrs > 0, so tens
// of thousands of them do not run out of ports.
type dialer struct {
	srcAddrs int
	timeout  time.Duration
	next     atomic.Uint64
}

func (d *dialer) dial(ctx context.Context, addr string) (*net.TCPConn, error) {
	nd := net.Dialer{Timeout: d.timeout}
	if d.srcAddrs > 0 {
		i := d.next.Add(1) % uint64(d.srcAddrs)
		nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))}
	}
	c, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// dialMany opens n connections with at most par dials at once, each made
// ready by open. It stops early after maxFail failures and returns what it
// has, with the first error.
func dialMany[C net.Conn](ctx context.Context, n, par, maxFail int, open func(context.Context) (C, error)) ([]C, error) {
	var (
		mu       sync.Mutex
		conns    = make([]C, 0, n)
		fails    int
		firstErr error
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan struct{})
	var wg sync.WaitGroup
	for range par {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				if ctx.Err() != nil {
					continue // drained after too many failures
				}
				c, err := open(ctx)
				mu.Lock()
				if err != nil {
					fails++
					if firstErr == nil {
						firstErr = err
					}
					if fails >= maxFail {
						cancel()
					}
				} else {
					conns = append(conns, c)
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for range n {
		if ctx.Err() != nil {
			break
		}
		select {
		case jobs <- struct{}{}:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	return conns, firstErr
}

// echoConn sends size bytes and reads them back.
type echoConn struct {
	*net.TCPConn
	out, in []byte
}

func newEchoConn(c *net.TCPConn, size int) *echoConn {
	out := bytes.Repeat([]byte{'x'}, size)
	return &echoConn{TCPConn: c, out: out, in: make([]byte, size)}
}

func (e *echoConn) exchange() error {
	if _, err := e.Write(e.out); err != nil {
		return err
	}
	_, err := io.ReadFull(e.TCPConn, e.in)
	return err
}

// wsConn sends one masked binary frame and reads the echoed frame.
type wsConn struct {
	net.Conn
	br      *bufio.Reader
	frame   []byte // the whole masked frame, built once
	payload []byte
}

func newWSConn(c net.Conn, br *bufio.Reader, size int) (*wsConn, error) {
	p := bytes.Repeat([]byte{'x'}, size)
	var buf bytes.Buffer
	f := ws.NewBinaryFrame(bytes.Clone(p))
	f = ws.MaskFrameInPlace(f)
	if err := ws.WriteFrame(&buf, f); err != nil {
		return nil, err
	}
	if br == nil {
		br = bufio.NewReaderSize(c, 4096)
	}
	return &wsConn{Conn: c, br: br, frame: buf.Bytes(), payload: make([]byte, size)}, nil
}

var errBadEcho = errors.New("bench: unexpected reply")

func (w *wsConn) exchange() error {
	if _, err := w.Write(w.frame); err != nil {
		return err
	}
	for {
		h, err := ws.ReadHeader(w.br)
		if err != nil {
			return err
		}
		if h.Length > int64(len(w.payload)) {
			return fmt.Errorf("%w: frame of %d bytes", errBadEcho, h.Length)
		}
		if _, err := io.ReadFull(w.br, w.payload[:h.Length]); err != nil {
			return err
		}
		switch h.OpCode {
		case ws.OpBinary, ws.OpText:
			if h.Length != int64(len(w.payload)) || !h.Fin {
				return fmt.Errorf("%w: %v frame of %d bytes", errBadEcho, h.OpCode, h.Length)
			}
			return nil
		case ws.OpClose:
			return fmt.Errorf("%w: close frame", errBadEcho)
		}
		// Pings and pongs from the server are skipped.
	}
}

// dialWS opens a WebSocket connection through d.
func dialWS(ctx context.Context, d *dialer, addr string) (net.Conn, *bufio.Reader, error) {
	wd := ws.Dialer{
		Timeout: d.timeout,
		NetDial: func(ctx context.Context, _, a string) (net.Conn, error) { return d.dial(ctx, a) },
	}
	c, br, _, err := wd.Dial(ctx, "ws://"+addr+"/")
	return c, br, err
}

// idleExchange does one exchange of the given kind on a fresh connection
// and leaves it open and idle.
func idleOpen(ctx context.Context, d *dialer, kind, addr string) (net.Conn, error) {
	deadline := time.Now().Add(d.timeout)
	switch kind {
	case kindTCP:
		c, err := d.dial(ctx, addr)
		if err != nil {
			return nil, err
		}
		c.SetDeadline(deadline)
		if err := newEchoConn(c, 64).exchange(); err != nil {
			closeAll([]net.Conn{c})
			return nil, err
		}
		c.SetDeadline(time.Time{})
		return c, nil
	case kindHTTP:
		c, err := d.dial(ctx, addr)
		if err != nil {
			return nil, err
		}
		c.SetDeadline(deadline)
		if err := httpOnce(c); err != nil {
			closeAll([]net.Conn{c})
			return nil, err
		}
		c.SetDeadline(time.Time{})
		return c, nil
	case kindWS:
		c, br, err := dialWS(ctx, d, addr)
		if err != nil {
			return nil, err
		}
		c.SetDeadline(deadline)
		wc, err := newWSConn(c, br, 64)
		if err == nil {
			err = wc.exchange()
		}
		if err == nil && wc.br.Buffered() > 0 {
			err = fmt.Errorf("%w: extra bytes", errBadEcho)
		}
		if err != nil {
			closeAll([]net.Conn{c})
			return nil, err
		}
		c.SetDeadline(time.Time{})
		return c, nil
	}
	return nil, fmt.Errorf("bench: unknown kind %q", kind)
}

// httpOnce sends one keep-alive GET and reads the whole response.
func httpOnce(c net.Conn) error {
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
		return err
	}
	br := bufio.NewReaderSize(c, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: status %d", errBadEcho, resp.StatusCode)
	}
	if br.Buffered() > 0 {
		return fmt.Errorf("%w: extra bytes", errBadEcho)
	}
	return nil
}

// NetConn returns the underlying connection.
func (w *wsConn) NetConn() net.Conn { return w.Conn }
