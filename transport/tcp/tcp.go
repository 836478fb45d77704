package tcp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/shunhui19/goes/core"
)

func init() {
	core.RegisterTransport(Transport{}, "tcp", "tcp4", "tcp6", "unix", "ssl", "tls")
}

// Settings of the goroutine engine.
const (
	// ReadBufferSize is each connection's read buffer.
	ReadBufferSize = 16 << 10
	// HandshakeTimeout bounds a TLS handshake.
	HandshakeTimeout = 10 * time.Second
	// KeepAlivePeriod is the TCP keep-alive probe interval.
	KeepAlivePeriod = 30 * time.Second
)

// Transport is the stream transport. Its zero value is ready to use.
type Transport struct{}

// Listen implements core.Transport.
func (Transport) Listen(g *core.Goer) (core.Listener, error) {
	network := strings.ToLower(g.Transport)
	var tlsConf *tls.Config
	if network == "ssl" || network == "tls" {
		network = "tcp"
		var err error
		if tlsConf, err = serverTLS(g); err != nil {
			return nil, err
		}
	}
	var ln net.Listener
	var err error
	if f := g.Inherited(); f != nil {
		// A reload: the previous process hands over its socket.
		ln, err = net.FileListener(f)
	} else {
		if network == "unix" {
			removeStaleSocket(g.Address)
		}
		lc := net.ListenConfig{KeepAlive: KeepAlivePeriod}
		if g.ReusePort {
			lc.Control = reusePort
		}
		ln, err = lc.Listen(context.Background(), network, g.Address)
	}
	if err != nil {
		return nil, err
	}
	l := &listener{g: g, ln: ln, tls: tlsConf, conns: map[net.Conn]struct{}{}}
	engine := strings.ToLower(g.Engine)
	if engine == "" {
		engine = DefaultEngine
	}
	switch engine {
	case "goroutine":
	case "epoll":
		// TLS stays on the goroutine engine: the handshake and records
		// need a reader of their own.
		if tlsConf == nil {
			if l.epoll, err = newEpollEngine(g, ln); err != nil {
				ln.Close()
				return nil, err
			}
		}
	default:
		ln.Close()
		return nil, fmt.Errorf("goes: unknown engine %q (goroutine or epoll)", g.Engine)
	}
	return l, nil
}

func serverTLS(g *core.Goer) (*tls.Config, error) {
	if g.TLSConfig != nil {
		return g.TLSConfig, nil
	}
	if g.CertFile == "" || g.KeyFile == "" {
		return nil, errors.New("goes: ssl transport needs Goer.TLSConfig or Goer.CertFile and Goer.KeyFile")
	}
	cert, err := tls.LoadX509KeyPair(g.CertFile, g.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("goes: load TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// removeStaleSocket removes a Unix socket file that no process listens on,
// left by a crash; a live one is kept so that Listen reports the conflict.
func removeStaleSocket(path string) {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return
	}
	os.Remove(path)
}

type listener struct {
	g   *core.Goer
	ln  net.Listener
	tls *tls.Config

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{} // in TLS handshake, not yet handed to core
	wg     sync.WaitGroup
	epoll  *epollEngine // nil: the goroutine engine
	finish sync.Once
}

// Finish implements core.Finisher: the event loops end once the Goer's
// connections have.
func (l *listener) Finish() {
	l.finish.Do(func() {
		if l.epoll != nil {
			l.epoll.shutdown()
		}
	})
}

func (l *listener) Addr() net.Addr { return l.ln.Addr() }

// File implements core.FileListener, for handing the socket to a new
// process in a reload. The Unix socket's file then stays on Close: the new
// process listens on it.
func (l *listener) File() (*os.File, error) {
	switch ln := l.ln.(type) {
	case *net.TCPListener:
		return ln.File()
	case *net.UnixListener:
		ln.SetUnlinkOnClose(false)
		return ln.File()
	}
	return nil, fmt.Errorf("goes: %T cannot be handed over", l.ln)
}

func (l *listener) Close() error {
	if l.epoll != nil {
		l.epoll.stopAccepting()
	}
	l.mu.Lock()
	l.closed = true
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	return l.ln.Close()
}

// Serve implements core.Listener.
func (l *listener) Serve() error {
	if l.epoll != nil {
		// The event loops accept: see epoll_accept_linux.go.
		return l.epoll.serve()
	}
	defer l.wg.Wait()
	var backoff time.Duration
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			l.mu.Lock()
			closed := l.closed
			l.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Out of file descriptors and the like: wait and try again
			// rather than spin or give up.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff *= 2; backoff > time.Second {
				backoff = time.Second
			}
			l.g.Log().Warn("accept failed; retrying", "goer", l.g.GetName(), "err", err, "in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		l.wg.Add(1)
		go l.serve(conn)
	}
}

// serve hands conn to core after the TLS handshake. Serve waits for this
// handing over, not for the connection: core tracks it from Accept on.
func (l *listener) serve(conn net.Conn) {
	var sock core.Socket
	if l.tls != nil {
		// wrap: an Abort for core (see core.Aborter), through NetConn.
		tc := tls.Server(wrap(conn), l.tls)
		if !l.track(conn) {
			conn.Close()
			l.wg.Done()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), HandshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		l.untrack(conn)
		if err != nil {
			conn.Close()
			l.wg.Done()
			return
		}
		sock = tc
	} else {
		sock = wrap(conn)
	}
	s, err := l.g.Accept(sock)
	l.wg.Done()
	if err != nil {
		conn.Close()
		return
	}
	serveStream(s, conn)
}

func (l *listener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *listener) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// serveStream is the goroutine engine's read loop for one connection.
func serveStream(s *core.Stream, r interface{ Read([]byte) (int, error) }) {
	s.Open()
	if tc, ok := s.Conn().Socket().(*tls.Conn); ok {
		r = tc
	}
	buf := make([]byte, ReadBufferSize)
	for {
		n, err := r.Read(buf)
		if n > 0 && !s.Received(buf[:n]) {
			s.WaitResume() // delivers what is buffered until no longer paused
		}
		if err != nil {
			s.Closed(err)
			return
		}
		if n == len(buf) && n < maxReadBufferSize {
			// A stream that fills the buffer (a proxied download) is
			// read in bigger pieces: fewer reads, fewer messages.
			buf = make([]byte, 2*n)
		}
	}
}

// maxReadBufferSize is what a connection's read buffer grows to while its
// reads fill it (the goroutine engine).
const maxReadBufferSize = 64 << 10
