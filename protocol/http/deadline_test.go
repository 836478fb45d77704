package http_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
)

// trickle writes head, then piece every gap until the connection fails or
// stop closes; it returns when it is done.
func trickle(c net.Conn, head, piece string, gap time.Duration, stop <-chan struct{}) {
	if _, err := io.WriteString(c, head); err != nil {
		return
	}
	for {
		select {
		case <-stop:
			return
		case <-time.After(gap):
		}
		if _, err := io.WriteString(c, piece); err != nil {
			return
		}
	}
}

// TestRequestTimeout: a request that keeps making progress, a byte at a
// time well inside HeaderTimeout and BodyTimeout, is cut off once
// RequestTimeout has passed since its first byte, in the head, a
// Content-Length body or a chunked body, on the first request of a
// connection and on a later one.
func TestRequestTimeout(t *testing.T) {
	const timeout = 600 * time.Millisecond
	addr := serve(t, &http.Protocol{RequestTimeout: timeout, HeaderTimeout: 20 * time.Second, BodyTimeout: 20 * time.Second}, hello)
	tests := []struct {
		name        string
		later       bool // after a first request on the same connection
		head, piece string
	}{
		{"head", false, "GET / HTTP/1.1\r\nHost: h\r\n", "X: y\r\n"},
		{"later head", true, "GET / HTTP/1.1\r\nHost: h\r\n", "X: y\r\n"},
		{"body", false, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n", "x"},
		{"later body", true, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n", "x"},
		{"chunked body", false, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", "1\r\nx\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rawConn(t, addr)
			var r io.Reader = c
			if tt.later {
				br, resp := getRoot(t, c)
				readAll(t, resp)
				r = br
			}
			stop := make(chan struct{})
			done := make(chan struct{})
			start := time.Now()
			go func() { defer close(done); trickle(c, tt.head, tt.piece, timeout/10, stop) }()
			b, err := io.ReadAll(r)
			d := time.Since(start)
			close(stop)
			<-done
			if err != nil || len(b) != 0 {
				t.Fatalf("read %q, %v", b, err)
			}
			if d < timeout || d > timeout+2*time.Second {
				t.Fatalf("closed after %v, want about %v", d, timeout)
			}
		})
	}
}

// TestRequestTimeoutOffAndWhole: a negative RequestTimeout turns it off
// (the body trickles in past it and is answered), and a request that
// comes whole is not touched by a short one.
func TestRequestTimeoutOffAndWhole(t *testing.T) {
	const timeout = 300 * time.Millisecond
	off := serve(t, &http.Protocol{RequestTimeout: -1, BodyTimeout: 20 * time.Second}, echoInfo)
	c := rawConn(t, off)
	io.WriteString(c, "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 8\r\n\r\n")
	for i := 0; i < 8; i++ {
		time.Sleep(timeout / 4) // 600 ms in all, twice the short timeout
		io.WriteString(c, "x")
	}
	resp, err := nethttp.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); resp.StatusCode != 200 || !strings.HasPrefix(body, "POST /p 8 ") {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}

	on := serve(t, &http.Protocol{RequestTimeout: timeout}, echoInfo)
	c = rawConn(t, on)
	br := bufio.NewReader(c)
	for i := 0; i < 6; i++ { // 6 requests over twice the timeout, each whole
		io.WriteString(c, "POST /q HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
		resp, err := nethttp.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		readAll(t, resp)
		time.Sleep(timeout / 3)
	}
}

// closeRecorder records when the Goer's connections close.
type closeRecorder struct {
	mu     sync.Mutex
	closed []time.Time
}

func (r *closeRecorder) setup(g *core.Goer) {
	g.OnClose = func(core.Connection) {
		r.mu.Lock()
		r.closed = append(r.closed, time.Now())
		r.mu.Unlock()
	}
}

// waitCloses waits until n connections closed or the deadline passes, and
// returns the close times.
func (r *closeRecorder) waitCloses(n int, deadline time.Time) []time.Time {
	for {
		r.mu.Lock()
		got := append([]time.Time(nil), r.closed...)
		r.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a log sink safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// stillOpen waits for wait, then expects c to answer another request.
func stillOpen(t *testing.T, c net.Conn, br *bufio.Reader, wait time.Duration) {
	t.Helper()
	time.Sleep(wait)
	io.WriteString(c, "GET /none HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, err := nethttp.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("closed: %v", err)
	}
	readAll(t, resp)
}

// TestWriteTimeout: a peer that asks for a large file and never reads, or
// reads too slowly for what is queued to go out within WriteTimeout, is
// closed, and the close is logged; peers that read a large file, a slow
// stream, or a file slowly but steadily are not.
func TestWriteTimeout(t *testing.T) {
	const timeout = time.Second
	dir := t.TempDir()
	big := filepath.Join(dir, "big.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(256 << 20) // sparse: far more than the socket buffers hold
	f.Close()
	os.WriteFile(filepath.Join(dir, "small.bin"), bytes.Repeat([]byte("x"), 600<<10), 0o644)
	mid := filepath.Join(dir, "mid.bin")
	os.WriteFile(mid, bytes.Repeat([]byte("0123456789"), 200<<10), 0o644) // 2 MB, read well within the timeout
	var rec closeRecorder
	var logs syncBuffer
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	addr := serve(t, &http.Protocol{WriteTimeout: timeout}, func(c core.Connection, _ []byte) {
		r := http.RequestOf(c)
		switch r.Path() {
		case "/stream": // 30 parts, 100 ms apart: three times the timeout
			s, err := r.Response().Stream()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 30; i++ {
					time.Sleep(100 * time.Millisecond)
					fmt.Fprintf(s, "part %d\n", i)
				}
				s.End()
			}()
		default:
			r.Response().SendFile(filepath.Join(dir, filepath.Base(r.Path())))
		}
	}, rec.setup, func(g *core.Goer) { g.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })

	t.Run("reader of a large file", func(t *testing.T) {
		c := rawConn(t, addr)
		br := bufio.NewReader(c)
		io.WriteString(c, "GET /mid.bin HTTP/1.1\r\nHost: h\r\n\r\n")
		resp, err := nethttp.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(readAll(t, resp)); n != 2_048_000 {
			t.Fatalf("%d bytes", n)
		}
		stillOpen(t, c, br, 2*timeout)
	})
	t.Run("reader of a slow stream", func(t *testing.T) {
		c := rawConn(t, addr)
		io.WriteString(c, "GET /stream HTTP/1.1\r\nHost: h\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := nethttp.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(t, resp); !strings.HasSuffix(body, "part 29\n") {
			t.Fatalf("stream cut: %q", body)
		}
		stillOpen(t, c, br, 2*timeout)
	})

	t.Run("slow but steady reader", func(t *testing.T) {
		// 200 KB/s for 600 KB: three times the timeout behind a backlog
		// that rarely empties, but each part of it goes out in time.
		c := rawConn(t, addr)
		c.(*net.TCPConn).SetReadBuffer(16 << 10)
		io.WriteString(c, "GET /small.bin HTTP/1.1\r\nHost: h\r\n\r\n")
		br := bufio.NewReaderSize(c, 20<<10)
		resp, err := nethttp.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 20<<10)
		n := 0
		for {
			m, err := io.ReadFull(resp.Body, buf)
			n += m
			if err != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		resp.Body.Close()
		if n != 600<<10 {
			t.Fatalf("%d bytes, want %d", n, 600<<10)
		}
		stillOpen(t, c, br, 0)
	})

	before := len(rec.waitCloses(3, time.Now().Add(5*time.Second))) // the reading peers left
	if before != 3 {
		t.Fatalf("%d closes before", before)
	}
	peers := []struct {
		name string
		read func(c net.Conn) // until the connection fails
	}{
		{"peer that never reads", func(c net.Conn) { c.SetReadDeadline(time.Now().Add(20 * time.Second)); c.Read(nil) }},
		{"peer that reads 10 KB/s", func(c net.Conn) {
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			buf := make([]byte, 1<<10)
			for {
				if _, err := io.ReadFull(c, buf); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}},
	}
	for _, pt := range peers {
		t.Run(pt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.(*net.TCPConn).SetReadBuffer(4 << 10)
			start := time.Now()
			io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\n")
			done := make(chan struct{})
			go func() { defer close(done); pt.read(c) }()
			defer func() { c.Close(); <-done }()
			closed := rec.waitCloses(before+1, start.Add(timeout+10*time.Second))
			if len(closed) <= before {
				t.Fatal("not closed")
			}
			if d := closed[before].Sub(start); d < timeout || d > timeout+5*time.Second {
				t.Fatalf("closed after %v, want about %v", d, timeout)
			}
			before++
			if !strings.Contains(logs.String(), "not written within WriteTimeout") {
				t.Fatalf("not logged: %q", logs.String())
			}
		})
	}
}

// TestManySlowRequests: a few hundred connections that each trickle a body
// one byte at a time, never stalling for BodyTimeout, are all shut down
// once RequestTimeout has passed (the peers read EOF), and closed within
// the Goer's CloseTimeout after that.
func TestManySlowRequests(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 100
	}
	const timeout, closeTimeout = time.Second, time.Second
	var rec closeRecorder
	addr := serve(t, &http.Protocol{RequestTimeout: timeout, BodyTimeout: 20 * time.Second}, hello, rec.setup,
		func(g *core.Goer) { g.CloseTimeout = closeTimeout })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(stop); wg.Wait() }()
	eofs := make(chan time.Duration, n)
	start := time.Now()
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(start.Add(timeout + 20*time.Second))
		wg.Add(2)
		go func() {
			defer wg.Done()
			trickle(c, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1000000\r\n\r\n", "x", 200*time.Millisecond, stop)
		}()
		go func() {
			defer wg.Done()
			b, err := io.ReadAll(c)
			if err != nil || len(b) != 0 {
				eofs <- -1
				return
			}
			eofs <- time.Since(start)
		}()
	}
	var last time.Duration
	for i := 0; i < n; i++ {
		d := <-eofs
		if d < timeout {
			t.Fatalf("a peer read %v after the start, not EOF after the timeout", d)
		}
		last = max(last, d)
	}
	closed := rec.waitCloses(n, time.Now().Add(closeTimeout+5*time.Second))
	if len(closed) != n {
		t.Fatalf("%d of %d slow connections closed", len(closed), n)
	}
	t.Logf("%d connections: the last EOF %v, the last close %v after the start", n, last, closed[len(closed)-1].Sub(start))
}
