package http_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
)

// pipelineFiles writes the static files the pipelining tests ask for: n
// files of different sizes and contents, so that a response out of order
// shows.
func pipelineFiles(t *testing.T, n int) (dir string, bodies []string) {
	t.Helper()
	dir = t.TempDir()
	for i := range n {
		body := strings.Repeat(fmt.Sprintf("file %d. ", i), 100+300*i)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.txt", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, body)
	}
	return dir, bodies
}

// pipeline sends total GETs on one connection in one burst, every 7th for
// a static file, and reads the answers after lateBy: every request must be
// answered, in order (RFC 9112 §9.3.2), however far the answers outgrow the
// send queue.
func pipeline(t *testing.T, total int, lateBy time.Duration, setup func(g *core.Goer)) {
	const files = 5
	dir, bodies := pipelineFiles(t, files)
	p := http.New()
	p.ResponseTimeout = 3 * time.Second // a stalled pipeline fails the test in seconds, not a minute
	p.ServeDir("/static/", dir)
	var sendFails atomic.Int64
	addr := serve(t, p, func(c core.Connection, _ []byte) {
		if err := c.Send(http.RequestOf(c).Path(), false); err != nil {
			sendFails.Add(1)
		}
	}, func(g *core.Goer) {
		g.MaxSendBufferSize = 64 << 10 // the answers outgrow the queue about a hundred times over
		if setup != nil {
			setup(g)
		}
	})
	want := func(i int) string {
		if i%7 == 6 {
			return bodies[(i/7)%files]
		}
		return "/p/" + strconv.Itoa(i)
	}
	// The requests are ready before the connection: HeaderTimeout runs
	// from the accept.
	var reqs bytes.Buffer
	for i := range total {
		if i%7 == 6 {
			fmt.Fprintf(&reqs, "GET /static/f%d.txt HTTP/1.1\r\nHost: h\r\n\r\n", (i/7)%files)
		} else {
			fmt.Fprintf(&reqs, "GET /p/%d HTTP/1.1\r\nHost: h\r\n\r\n", i)
		}
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A small receive buffer: the answers wait in the server, not in the
	// kernel's buffers (which grow to tens of MiB on loopback).
	if err := c.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))

	wrote := make(chan error, 1)
	go func() { // one burst; the server may stop reading it for a while
		_, err := c.Write(reqs.Bytes())
		wrote <- err
	}()
	time.Sleep(lateBy)
	br := bufio.NewReaderSize(c, 64<<10)
	var got int
	for got = 0; got < total; got++ {
		resp, err := nethttp.ReadResponse(br, nil)
		if err != nil {
			break
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			break
		}
		if resp.StatusCode != 200 || string(b) != want(got) {
			t.Fatalf("answer %d: %d, %d bytes %.40q; want %.40q", got, resp.StatusCode, len(b), b, want(got))
		}
	}
	if got < total {
		t.Fatalf("%d of %d pipelined requests answered; %d sends refused", got, total, sendFails.Load())
	}
	if err := <-wrote; err != nil {
		t.Fatalf("writing the requests: %v", err)
	}
	if n := sendFails.Load(); n != 0 {
		t.Fatalf("%d answers refused", n)
	}
}

func TestPipelineOutgrowsSendQueue(t *testing.T) {
	pipeline(t, 20000, 0, nil)
}

func TestPipelineReadLate(t *testing.T) {
	pipeline(t, 20000, 3*time.Second, nil)
}

// A pipelining peer that reads its answers only after KeepAliveTimeout
// (and HeaderTimeout) has passed several times over: the connection was
// paused by us all along, waiting for the peer to read, so it was never
// late with a request; every one is answered. WriteTimeout, not the read
// deadlines, bounds how late the peer may read.
func TestPipelineReadLatePastKeepAlive(t *testing.T) {
	pipeline(t, 20000, 3*time.Second, func(g *core.Goer) {
		p := g.Protocol.(*http.Protocol)
		p.KeepAliveTimeout = 500 * time.Millisecond // short, but not so short that a loaded machine misses it
		p.HeaderTimeout = 500 * time.Millisecond
		p.WriteTimeout = 20 * time.Second
	})
}

// A response that the send queue refuses (a handler filled the queue with
// raw bytes of its own first) would leave its request, and the pipelined
// ones behind it, unanswered: the connection closes at once, with the
// reason in the log, instead of after ResponseTimeout.
func TestRefusedResponseClosesConnection(t *testing.T) {
	var log syncBuffer
	p := http.New()
	p.ResponseTimeout = 30 * time.Second
	junk := bytes.Repeat([]byte("j"), 16<<10)
	var refused atomic.Int64
	addr := serve(t, p, func(c core.Connection, _ []byte) {
		for c.SendBytes(junk, true) == nil {
		}
		if err := c.Send("answer", false); err != nil {
			refused.Add(1)
		}
	}, func(g *core.Goer) {
		g.MaxSendBufferSize = 64 << 10
		g.CloseTimeout = 500 * time.Millisecond
		g.Logger = slog.New(slog.NewTextHandler(&log, nil))
	})
	c := rawConn(t, addr)
	begin := time.Now()
	io.WriteString(c, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n")
	time.Sleep(time.Second) // the peer reads late: the queue stays full
	b, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("after %d bytes: %v", len(b), err)
	}
	if took := time.Since(begin); took > 10*time.Second {
		t.Fatalf("connection closed after %v", took)
	}
	if refused.Load() != 1 {
		t.Fatalf("%d responses refused, want 1", refused.Load())
	}
	if bytes.Contains(b, []byte("answer")) || bytes.Contains(b, []byte("HTTP/1.1 200")) {
		t.Fatal("a refused response went out")
	}
	if !strings.Contains(log.String(), "response not sent; closing the connection") {
		t.Fatalf("the log does not say why the connection closed:\n%s", log.String())
	}
}

// A peer that pipelines requests and never reads its answers: the
// connection stops reading with its send queue bounded, and WriteTimeout
// closes it. KeepAliveTimeout does not: we stopped reading, the peer was
// not late with a request.
func TestPipelineNeverRead(t *testing.T) {
	const limit = 64 << 10
	p := http.New()
	p.KeepAliveTimeout = time.Second // what is left of it after a pause must survive a loaded machine's stall
	p.WriteTimeout = 3 * time.Second
	var logs syncBuffer
	closed := make(chan struct{})
	conns := make(chan *core.TCPConnection, 1)
	addr := serve(t, p, hello, func(g *core.Goer) {
		g.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		g.MaxSendBufferSize = limit
		g.CloseTimeout = 500 * time.Millisecond
		g.OnConnect = func(c core.Connection) { conns <- c.(*core.TCPConnection) }
		g.OnClose = func(core.Connection) { close(closed) }
	})
	c := rawConn(t, addr)
	if err := c.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	tc := <-conns
	reqs := bytes.Repeat([]byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), 100000)
	go c.Write(reqs) // ends with an error once the server closes
	maxQueue := 0
	deadline := time.After(10 * time.Second)
	for done := false; !done; {
		maxQueue = max(maxQueue, tc.SendQueueSize())
		select {
		case <-closed:
			done = true
		case <-deadline:
			t.Fatal("a peer that never reads kept its connection")
		case <-time.After(5 * time.Millisecond):
		}
	}
	if maxQueue > limit+256 {
		t.Fatalf("send queue reached %d bytes, limit %d", maxQueue, limit)
	}
	if !strings.Contains(logs.String(), "not written within WriteTimeout") {
		t.Fatalf("the connection was not closed by WriteTimeout:\n%s", logs.String())
	}
}
