package http_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
)

// startGoer starts an HTTP Goer for the drain tests; the test stops it.
func startGoer(t *testing.T, h func(c core.Connection, data []byte)) *core.Goer {
	t.Helper()
	g := core.NewGoer("127.0.0.1:0", http.New(), "tcp")
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g.OnMessage = h
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Stop)
	return g
}

// stopGracefully runs StopWithin(grace) in the background and returns a
// channel that gets how long it took.
func stopGracefully(g *core.Goer, grace time.Duration) <-chan time.Duration {
	ch := make(chan time.Duration, 1)
	begin := time.Now()
	go func() {
		g.StopWithin(grace)
		ch <- time.Since(begin)
	}()
	return ch
}

func within(t *testing.T, ch <-chan time.Duration, limit time.Duration, what string) {
	t.Helper()
	select {
	case d := <-ch:
		if d > limit {
			t.Fatalf("%s took %v (limit %v)", what, d, limit)
		}
	case <-time.After(limit + 5*time.Second):
		t.Fatalf("%s did not end", what)
	}
}

// expectClosed reads from br until EOF, failing on data or a timeout.
func expectClosed(t *testing.T, c net.Conn, br *bufio.Reader, within time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	if b, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("want EOF, got %q %v", b, err)
	}
}

// A graceful stop closes an idle keep-alive connection at once, not after
// GracefulTimeout.
func TestDrainClosesIdleKeepAlive(t *testing.T) {
	g := startGoer(t, hello)
	c := rawConn(t, g.Addr().String())
	br, resp := getRoot(t, c)
	readAll(t, resp)
	time.Sleep(core.DrainQuiet + 50*time.Millisecond)
	stopped := stopGracefully(g, 30*time.Second)
	expectClosed(t, c, br, time.Second)
	c.Close()
	within(t, stopped, 2*time.Second, "a graceful stop with one idle keep-alive connection")
}

// A connection that got a response a moment before the stop began may
// still send its next request: it is answered, with "Connection: close".
func TestDrainAnswersRequestInTheGap(t *testing.T) {
	g := startGoer(t, hello)
	c := rawConn(t, g.Addr().String())
	br, resp := getRoot(t, c)
	readAll(t, resp)
	stopped := stopGracefully(g, 30*time.Second)
	time.Sleep(core.DrainQuiet / 3)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, err := nethttp.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("request sent during the drain: %v", err)
	}
	if body := readAll(t, resp); body != "hello, goer" || !resp.Close {
		t.Fatalf("body %q, Connection: close %v", body, resp.Close)
	}
	expectClosed(t, c, br, 5*time.Second)
	c.Close()
	within(t, stopped, 3*time.Second, "the graceful stop")
}

// A request being handled when the stop begins, on the lane or answered
// later from another goroutine, gets its response with "Connection:
// close", and the connection then closes.
func TestDrainBusyGetsConnectionClose(t *testing.T) {
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	started := make(chan struct{}, 2)
	g := startGoer(t, func(c core.Connection, _ []byte) {
		started <- struct{}{}
		switch http.RequestOf(c).Path() {
		case "/slow": // the handler itself takes its time
			time.Sleep(400 * time.Millisecond)
			c.Send("slow", false)
		case "/later": // answered from another goroutine
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(400 * time.Millisecond)
				c.Send("later", false)
			}()
		}
	})
	addr := g.Addr().String()
	type pending struct {
		c  net.Conn
		br *bufio.Reader
	}
	var ps []pending
	for _, path := range []string{"/slow", "/later"} {
		c := rawConn(t, addr)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", path)
		ps = append(ps, pending{c, bufio.NewReader(c)})
		<-started
	}
	stopped := stopGracefully(g, 30*time.Second)
	for i, want := range []string{"slow", "later"} {
		resp, err := nethttp.ReadResponse(ps[i].br, nil)
		if err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		if body := readAll(t, resp); body != want || !resp.Close {
			t.Fatalf("%s: body %q, Connection: close %v", want, body, resp.Close)
		}
		expectClosed(t, ps[i].c, ps[i].br, 5*time.Second)
		ps[i].c.Close()
	}
	within(t, stopped, 3*time.Second, "the graceful stop")
}

// A wrk-like load of keep-alive clients over a hand-over: when the old
// server begins its graceful stop, every client's next response says
// "Connection: close" and the client goes on at the new server (here a
// second Goer, where a reload's new process would be); no request fails,
// and every client has moved within a short time.
func TestDrainMovesKeepAliveLoad(t *testing.T) {
	const clients = 16
	oldG := startGoer(t, hello)
	newG := startGoer(t, hello)
	var target atomic.Value
	target.Store(oldG.Addr().String())
	var (
		ok, failed atomic.Int64
		firstErr   atomic.Value
		onNew      atomic.Int32
		stayed     atomic.Int32 // requests sent while draining that did not end their connection
		stop       = make(chan struct{})
		wg         sync.WaitGroup
	)
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c net.Conn
			var br *bufio.Reader
			moved := false
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			for n := 0; n < 1_000_000 && time.Now().Before(deadline); n++ {
				select {
				case <-stop:
					return
				default:
				}
				if c == nil {
					addr := target.Load().(string)
					var err error
					if c, err = net.Dial("tcp", addr); err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err)
						return
					}
					c.SetDeadline(time.Now().Add(15 * time.Second))
					br = bufio.NewReader(c)
					if addr == newG.Addr().String() && !moved {
						moved = true
						onNew.Add(1)
					}
				}
				late := oldG.Draining() // then this response must be the connection's last
				io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
				resp, err := nethttp.ReadResponse(br, nil)
				if err == nil {
					var b []byte
					b, err = io.ReadAll(resp.Body)
					if err == nil && string(b) != "hello, goer" {
						err = fmt.Errorf("body %q", b)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Errorf("request %d: %w", n, err))
					return
				}
				ok.Add(1)
				if late && !moved && !resp.Close {
					stayed.Add(1)
				}
				if resp.Close {
					c.Close()
					c = nil
				}
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	before := ok.Load()
	target.Store(newG.Addr().String()) // new connections go to the "new process"
	stopped := stopGracefully(oldG, 30*time.Second)
	begin := time.Now()
	for onNew.Load() < clients && time.Since(begin) < 10*time.Second && failed.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	moved := time.Since(begin)
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed (%d ok): %v", failed.Load(), ok.Load(), firstErr.Load())
	}
	if stayed.Load() != 0 {
		t.Fatalf("%d requests sent to the draining server were answered without Connection: close", stayed.Load())
	}
	if onNew.Load() != clients {
		t.Fatalf("%d of %d clients moved to the new server within %v", onNew.Load(), clients, moved)
	}
	if before == 0 {
		t.Fatal("no requests before the stop")
	}
	within(t, stopped, 3*time.Second, "the old server's graceful stop")
	t.Logf("%d requests; all %d clients on the new server %v after the stop began", ok.Load(), clients, moved.Round(time.Millisecond))
}

// A request whose handler never answers holds its connection only until
// GracefulTimeout (shortened here): then it is closed, and the stop ends.
func TestDrainPastGracefulTimeout(t *testing.T) {
	started := make(chan struct{}, 1)
	g := startGoer(t, func(core.Connection, []byte) { started <- struct{}{} }) // no answer
	c := rawConn(t, g.Addr().String())
	io.WriteString(c, "GET /never HTTP/1.1\r\nHost: h\r\n\r\n")
	<-started
	const grace = 300 * time.Millisecond
	stopped := stopGracefully(g, grace)
	begin := time.Now()
	br := bufio.NewReader(c)
	expectClosed(t, c, br, 5*time.Second)
	if d := time.Since(begin); d < grace-50*time.Millisecond {
		t.Fatalf("closed after %v, before the graceful timeout", d)
	}
	c.Close()
	within(t, stopped, grace+3*time.Second, "a graceful stop past its timeout")
}
