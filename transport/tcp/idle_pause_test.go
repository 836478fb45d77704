package tcp_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/transport/tcp"
)

// idleEnd is how a connection ended: when, the idle clock it had then
// (LastActive), and the error codes it reported.
type idleEnd struct {
	at, lastActive time.Time
	codes          []int
}

// watchIdle sets g's OnConnect, OnError and OnClose to hand over the
// connection and report its end.
func watchIdle(g *core.Goer) (conns chan *core.TCPConnection, ended chan idleEnd) {
	conns, ended = make(chan *core.TCPConnection, 1), make(chan idleEnd, 1)
	var mu sync.Mutex
	var codes []int
	g.OnConnect = func(c core.Connection) { conns <- c.(*core.TCPConnection) }
	g.OnError = func(_ core.Connection, code int, _ string) { mu.Lock(); codes = append(codes, code); mu.Unlock() }
	g.OnClose = func(c core.Connection) {
		mu.Lock()
		defer mu.Unlock()
		ended <- idleEnd{time.Now(), c.(*core.TCPConnection).LastActive(), codes}
	}
	return conns, ended
}

// stillOpen fails the test if the connection ended.
func stillOpen(t *testing.T, ended chan idleEnd, what string) {
	t.Helper()
	select {
	case e := <-ended:
		t.Fatalf("%s: closed (codes %v)", what, e.codes)
	default:
	}
}

// closedIdle waits for the connection to end by IdleTimeout, no sooner
// than idle after its idle clock last started, and no sooner than after.
func closedIdle(t *testing.T, ended chan idleEnd, idle time.Duration, after time.Time) {
	t.Helper()
	select {
	case e := <-ended:
		if len(e.codes) != 1 || e.codes[0] != core.ErrCodeIdleTimeout {
			t.Fatalf("codes %v, want one ErrCodeIdleTimeout", e.codes)
		}
		if silent := e.at.Sub(e.lastActive); silent < idle || e.lastActive.Before(after) {
			t.Fatalf("closed %v after its idle clock started (%v; the last pause ended %v), IdleTimeout %v",
				silent, e.lastActive.Format(time.StampMilli), after.Format(time.StampMilli), idle)
		}
	case <-time.After(idle + 5*time.Second):
		t.Fatal("not closed by IdleTimeout")
	}
}

// readToEOF reads what the server sends until it closes, then closes c,
// as a peer does: a closing connection waits for that (or CloseTimeout).
func readToEOF(c net.Conn) {
	io.Copy(io.Discard, c)
	c.Close()
}

// eachEngine runs f on both engines, side by side: the tests wait for
// seconds of idle time.
func eachEngine(t *testing.T, f func(t *testing.T, engine string)) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			f(t, engine)
		})
	}
}

// TestIdleTimeoutSkipsUserPause: a connection paused by PauseRecv for
// three times IdleTimeout is not closed as idle; once resumed, its
// silence closes it after IdleTimeout.
func TestIdleTimeoutSkipsUserPause(t *testing.T) {
	const idle = time.Second
	eachEngine(t, func(t *testing.T, engine string) {
		g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
		g.Engine = engine
		g.IdleTimeout = idle
		conns, ended := watchIdle(g)
		g.OnMessage = func(c core.Connection, d []byte) {
			if string(d) == "pause" {
				c.(*core.TCPConnection).PauseRecv()
			}
		}
		cl := dial(t, start(t, g))
		go readToEOF(cl)
		tc := <-conns
		io.WriteString(cl, "pause\n")
		waitFor(t, "the pause", tc.IsPaused)
		time.Sleep(3*idle + 500*time.Millisecond)
		stillOpen(t, ended, "paused for 3.5 IdleTimeouts")
		resumed := time.Now()
		tc.ResumeRecv()
		closedIdle(t, ended, idle, resumed)
	})
}

// TestIdleTimeoutSkipsPipePause: a proxied connection that Pipe paused
// because its backend reads nothing is not closed as idle for that; it
// is once the backend read everything and the client went silent.
func TestIdleTimeoutSkipsPipePause(t *testing.T) {
	const idle, size = time.Second, 16 << 20
	eachEngine(t, func(t *testing.T, engine string) {
		backend, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer backend.Close()
		accepted := make(chan net.Conn, 1)
		go func() {
			c, err := backend.Accept()
			if err != nil {
				return
			}
			c.(*net.TCPConn).SetReadBuffer(64 << 10)
			accepted <- c
		}()
		proxy := core.NewGoer("127.0.0.1:0", nil, "tcp")
		proxy.Engine = engine
		proxy.IdleTimeout = idle
		conns, ended := watchIdle(proxy)
		onConnect, onClose := proxy.OnConnect, proxy.OnClose
		proxy.OnConnect = func(c core.Connection) {
			a := core.NewAsyncConnection("tcp://"+backend.Addr().String(), nil)
			a.Server = proxy
			a.MaxSendBufferSize = 256 << 10
			src := c.(*core.TCPConnection)
			src.OnClose = onClose // Pipe's OnClose runs it first; the Goer's would not run
			src.Pipe(a)
			a.Pipe(src)
			a.Connect()
			onConnect(c)
		}
		payload := bytes.Repeat([]byte("p"), size)
		cl := dial(t, start(t, proxy))
		go readToEOF(cl)
		tc := <-conns
		wrote := make(chan error, 1)
		go func() {
			_, err := cl.Write(payload)
			wrote <- err
		}()
		var be net.Conn
		select {
		case be = <-accepted:
			defer be.Close()
		case <-time.After(10 * time.Second):
			t.Fatal("no backend connection")
		}
		waitFor(t, "the pause", tc.IsPaused)
		time.Sleep(3*idle + 500*time.Millisecond)
		stillOpen(t, ended, "paused by the Pipe for 3.5 IdleTimeouts")
		if !tc.IsPaused() {
			t.Fatal("the proxied connection was resumed while its backend read nothing")
		}
		be.SetReadDeadline(time.Now().Add(30 * time.Second))
		drained := time.Now()
		if n, err := io.CopyN(io.Discard, be, size); err != nil {
			t.Fatalf("the backend read %d of %d bytes: %v", n, size, err)
		}
		if err := <-wrote; err != nil {
			t.Fatal(err)
		}
		closedIdle(t, ended, idle, drained)
	})
}

// TestIdleTimeoutQueuePause: a connection paused for its full send queue
// (SendHighWater) whose peer reads, slowly, for twice IdleTimeout without
// sending is not closed as idle; once the peer has read everything and
// stays silent, it is. (TestNeverReadingPeer: a peer that reads nothing
// is closed while paused.)
func TestIdleTimeoutQueuePause(t *testing.T) {
	// 4 s: the writes are the clock here, and a machine loaded with -race
	// suites was seen to hold a connection's writer back for 2 s.
	const idle, size = 4 * time.Second, 8 << 20
	eachEngine(t, func(t *testing.T, engine string) {
		g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
		g.Engine = engine
		g.IdleTimeout = idle
		g.MaxSendBufferSize = 64 << 10
		g.SendHighWater = 32 << 10
		conns, ended := watchIdle(g)
		onConnect := g.OnConnect
		g.OnConnect = func(c core.Connection) {
			// A small kernel buffer: what the peer reads lets core write
			// at once, not once a few MiB were read.
			if err := tcp.SetSendBuffer(c.(*core.TCPConnection).Socket(), 64<<10); err != nil {
				t.Error(err)
			}
			onConnect(c)
		}
		big := strings.Repeat("q", size)
		g.OnMessage = func(c core.Connection, d []byte) { c.Send(big, false) }
		cl := dialSmall(t, start(t, g))
		tc := <-conns
		io.WriteString(cl, "big\n")
		waitFor(t, "the pause", tc.IsPaused)
		// The peer reads 64 KiB every 100 ms, and never sends.
		r := bufio.NewReaderSize(cl, 64<<10)
		read := 0
		for until := time.Now().Add(2*idle + 500*time.Millisecond); time.Now().Before(until); {
			n, err := io.CopyN(io.Discard, r, 64<<10)
			read += int(n)
			if err != nil {
				t.Fatalf("after %d bytes: %v", read, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		stillOpen(t, ended, "paused by its queue, read slowly for 2.1 IdleTimeouts")
		if read >= size || !tc.IsPaused() {
			t.Fatalf("the peer read %d of %d bytes, paused %v, %s: the queue was not paused all along", read, size, tc.IsPaused(), tc.State())
		}
		fast := time.Now()
		cl.SetReadDeadline(time.Now().Add(30 * time.Second))
		if line, err := r.ReadString('\n'); err != nil || read+len(line) != size+1 {
			t.Fatalf("read %d+%d of %d bytes: %v", read, len(line), size+1, err)
		}
		go readToEOF(cl)
		closedIdle(t, ended, idle, fast)
	})
}
