//go:build unix

package tcp_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// A Close that gives up flushing at CloseTimeout drops what is still queued.
// The peer must not take the cut stream for a whole one, as it would after
// a FIN: it sees a reset. On both engines, and over TLS.
func TestCloseTimeoutResets(t *testing.T) {
	const size = 16 << 20 // more than the kernel buffers between the two
	for _, tc := range []struct{ name, engine, transport string }{
		{"epoll", "epoll", "tcp"},
		{"goroutine", "goroutine", "tcp"},
		{"tls", "goroutine", "ssl"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			closed := make(chan struct{})
			g := core.NewGoer("127.0.0.1:0", nil, tc.transport)
			g.Engine = tc.engine
			g.CloseTimeout = 200 * time.Millisecond
			g.MaxSendBufferSize = 2 * size
			g.OnConnect = func(c core.Connection) {
				if err := c.SendBytes(bytes.Repeat([]byte{'x'}, size), false); err != nil {
					t.Errorf("send: %v", err)
				}
				c.Close("")
			}
			g.OnClose = func(core.Connection) { close(closed) }
			var pool *tlsPool
			if tc.transport == "ssl" {
				pool = newTLSPool(t)
				g.TLSConfig = pool.server
			}
			g.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			if err := g.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(g.Stop)

			// A peer that never reads, with a small receive window.
			d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
				return rc.Control(func(fd uintptr) {
					syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
				})
			}}
			raw, err := d.Dial("tcp", g.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			var c net.Conn = raw
			if pool != nil {
				tc := tls.Client(raw, pool.client)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := tc.HandshakeContext(ctx)
				cancel()
				if err != nil {
					t.Fatal(err)
				}
				c = tc
			}
			select {
			case <-closed:
			case <-time.After(10 * time.Second):
				t.Fatal("the connection outlived CloseTimeout")
			}
			// Now the peer reads what reached it: the stream must end in a
			// reset, not in an EOF that would pass it off as complete.
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			n, err := io.Copy(io.Discard, c)
			if n >= size {
				t.Fatalf("the peer got all %d bytes: nothing was dropped, the test proves nothing", n)
			}
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("after %d of %d bytes the stream ended with %v, want a reset", n, size, err)
			}
			if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "queued") {
				t.Fatalf("the dropped data was not logged; the log:\n%s", out)
			}
		})
	}
}

// A Close that flushes in time ends with a FIN as before: the peer reads
// everything and then EOF, with no warning logged.
func TestCloseFlushedEndsWithEOF(t *testing.T) {
	const size = 4 << 20
	for _, engine := range []string{"epoll", "goroutine"} {
		t.Run(engine, func(t *testing.T) {
			var logs syncBuffer
			g := core.NewGoer("127.0.0.1:0", nil, "tcp")
			g.Engine = engine
			g.CloseTimeout = 5 * time.Second
			g.MaxSendBufferSize = 2 * size
			g.OnConnect = func(c core.Connection) {
				c.SendBytes(bytes.Repeat([]byte{'x'}, size), false)
				c.Close("")
			}
			g.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			if err := g.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(g.Stop)
			c := dial(t, g.Addr().String())
			time.Sleep(100 * time.Millisecond) // the queue is still full: the peer reads late
			n, err := io.Copy(io.Discard, c)
			if err != nil || n != size {
				t.Fatalf("read %d of %d bytes, then %v", n, size, err)
			}
			if strings.Contains(logs.String(), "level=WARN") {
				t.Fatalf("a warning for a close that flushed:\n%s", logs.String())
			}
		})
	}
}

// syncBuffer is a bytes.Buffer for a logger that several goroutines use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// tlsPool is a server configuration with a self-signed certificate and a
// client configuration that trusts it.
type tlsPool struct{ server, client *tls.Config }

func newTLSPool(t *testing.T) *tlsPool {
	cert, pool := selfSigned(t)
	return &tlsPool{
		server: &tls.Config{Certificates: []tls.Certificate{cert}},
		client: &tls.Config{RootCAs: pool, ServerName: "localhost"},
	}
}
