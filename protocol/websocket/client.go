package websocket

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"

	"github.com/shunhui19/goes/core"
)

// Client defaults, applied where a field is zero.
const (
	DefaultDialTimeout  = 10 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultMinBackoff   = 500 * time.Millisecond
	DefaultMaxBackoff   = 30 * time.Second
)

// Client connects to a WebSocket server and runs the same callbacks as a
// Goer: OnConnect, OnMessage for every whole message, OnClose once per
// connection, OnError. The callbacks of a Client run one at a time on its
// own goroutine. With Reconnect set it dials again after a failed dial or a
// lost connection, waiting MinBackoff, doubling up to MaxBackoff.
//
// Set the fields before Start; they must not change afterwards.
type Client struct {
	// URL is ws://host:port/path or wss://...
	URL string
	// Header is sent with the upgrade request (Origin, Cookie, ...).
	Header http.Header
	// Protocols are the subprotocols offered, in order of preference.
	Protocols []string
	// TLSConfig for wss URLs (nil: the system roots).
	TLSConfig *tls.Config
	// Compression offers permessage-deflate without context takeover.
	Compression bool
	// SendType is the type of the messages Send sends (zero: text).
	SendType MessageType
	// MaxMessageSize limits one incoming message
	// (core.DefaultMaxPackageSize when zero).
	MaxMessageSize int
	// DialTimeout bounds the TCP, TLS and WebSocket handshakes.
	DialTimeout time.Duration
	// WriteTimeout bounds one write; a peer slower than that is dropped.
	WriteTimeout time.Duration
	// PingInterval, when not zero, pings the server every interval and
	// drops the connection when nothing came back for a whole interval.
	PingInterval time.Duration
	// Reconnect dials again after a failed dial or a lost connection.
	Reconnect              bool
	MinBackoff, MaxBackoff time.Duration
	// Logger receives the client's log (default slog.Default()).
	Logger *slog.Logger

	OnConnect func(c core.Connection)
	OnMessage func(c core.Connection, data []byte)
	OnClose   func(c core.Connection)
	OnError   func(c core.Connection, code int, msg string)

	mu      sync.Mutex
	cur     *ClientConn
	started bool
	stop    chan struct{}
	done    chan struct{}
	cancel  context.CancelFunc
}

// NewClient returns a Client for url.
func NewClient(url string) *Client { return &Client{URL: url} }

var nextClientID atomic.Int64

// Start begins connecting in the background and returns at once. Errors
// of the dial go to OnError with core.ErrCodeConnectFail.
func (cl *Client) Start() error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.started {
		return errors.New("goes: websocket: client already started")
	}
	if cl.URL == "" {
		return errors.New("goes: websocket: client has no URL")
	}
	cl.started = true
	cl.stop = make(chan struct{})
	cl.done = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	cl.cancel = cancel
	go cl.run(ctx)
	return nil
}

// Stop closes the connection with 1000 (normal closure), stops
// reconnecting and returns once OnClose has run. Safe for concurrent use,
// except from the Client's own callbacks.
func (cl *Client) Stop() {
	cl.mu.Lock()
	if !cl.started || cl.stop == nil {
		cl.mu.Unlock()
		return
	}
	select {
	case <-cl.stop:
	default:
		close(cl.stop)
		cl.cancel()
	}
	c, done := cl.cur, cl.done
	cl.mu.Unlock()
	if c != nil {
		CloseWith(c, CloseNormal, "")
	}
	<-done
}

// Conn returns the current connection, or nil between connections.
func (cl *Client) Conn() *ClientConn {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.cur
}

func (cl *Client) stopped() bool {
	select {
	case <-cl.stop:
		return true
	default:
		return false
	}
}

func (cl *Client) log() *slog.Logger {
	if cl.Logger != nil {
		return cl.Logger
	}
	return slog.Default()
}

func (cl *Client) run(ctx context.Context) {
	defer close(cl.done)
	min := cl.MinBackoff
	if min <= 0 {
		min = DefaultMinBackoff
	}
	max := cl.MaxBackoff
	if max < min {
		max = DefaultMaxBackoff
		if max < min {
			max = min
		}
	}
	wait := min
	for {
		c, err := cl.dial(ctx)
		if err == nil {
			wait = min
			cl.serve(c)
		} else if !cl.stopped() {
			cl.callError(&ClientConn{cl: cl, id: -int(nextClientID.Add(1))}, core.ErrCodeConnectFail, err.Error())
		}
		if !cl.Reconnect || cl.stopped() {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-cl.stop:
			t.Stop()
			return
		}
		if err != nil {
			wait *= 2
			if wait > max {
				wait = max
			}
		}
	}
}

func (cl *Client) dial(ctx context.Context) (*ClientConn, error) {
	d := ws.Dialer{
		Timeout:   orDur(cl.DialTimeout, DefaultDialTimeout),
		Protocols: cl.Protocols,
		TLSConfig: cl.TLSConfig,
	}
	if cl.Header != nil {
		d.Header = ws.HandshakeHeaderHTTP(cl.Header)
	}
	if cl.Compression {
		d.Extensions = []httphead.Option{wsflate.DefaultParameters.Option()}
	}
	sock, br, hs, err := d.Dial(ctx, cl.URL)
	if err != nil {
		return nil, fmt.Errorf("goes: websocket: dial %s: %w", cl.URL, err)
	}
	p := &Protocol{SendType: cl.SendType}
	st := newConn(p, true)
	for _, e := range hs.Extensions {
		if string(e.Name) != wsflate.ExtensionName {
			continue
		}
		var params wsflate.Parameters
		if err := params.Parse(e); err != nil || !params.ServerNoContextTakeover {
			sock.Close()
			return nil, fmt.Errorf("goes: websocket: dial %s: %w: unusable permessage-deflate answer", cl.URL, ErrBadHandshake)
		}
		st.deflate = true
	}
	c := &ClientConn{cl: cl, id: -int(nextClientID.Add(1)), sock: sock, st: st, subp: hs.Protocol}
	c.r = sock
	if br != nil {
		c.r = br
	}
	return c, nil
}

func orDur(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// serve runs one connection's callbacks and read loop.
func (cl *Client) serve(c *ClientConn) {
	cl.mu.Lock()
	stopped := cl.stopped()
	if !stopped {
		cl.cur = c
	}
	cl.mu.Unlock()
	if stopped {
		c.sock.Close()
		return
	}
	stopBeat := make(chan struct{})
	var beat sync.WaitGroup
	if iv := cl.PingInterval; iv > 0 {
		c.st.p.PingInterval = iv
		beat.Add(1)
		go func() {
			defer beat.Done()
			t := time.NewTicker(iv)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					c.st.beat(c)
				case <-stopBeat:
					return
				}
			}
		}()
	}
	cl.call(c, "OnConnect", cl.OnConnect)
	limit := cl.MaxMessageSize
	if limit <= 0 {
		limit = core.DefaultMaxPackageSize
	}
	c.limit = limit
	var fr framer
	buf := make([]byte, 32<<10)
	for {
		n, err := c.r.Read(buf)
		if n > 0 && !c.closing.Load() {
			ferr := fr.feed(c.st, c, buf[:n], limit+maxHeaderSize, func(msg []byte) {
				if f := cl.OnMessage; f != nil {
					cl.callMessage(c, f, msg)
				}
			})
			if ferr != nil {
				code := core.ErrCodeProtocol
				if errors.Is(ferr, core.ErrPackageTooLarge) {
					code = core.ErrCodePackageTooLarge
				}
				cl.callError(c, code, ferr.Error())
				c.Close("")
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !c.closing.Load() {
				cl.callError(c, core.ErrCodeIO, err.Error())
			}
			break
		}
	}
	close(stopBeat)
	beat.Wait()
	c.Destroy()
	c.st.end()
	cl.mu.Lock()
	if cl.cur == c {
		cl.cur = nil
	}
	cl.mu.Unlock()
	cl.call(c, "OnClose", cl.OnClose)
}

func (cl *Client) recoverCallback(c *ClientConn, name string) {
	if r := recover(); r != nil {
		cl.log().Error("callback panicked", "callback", name, "url", cl.URL,
			"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		if name != "OnClose" && name != "OnError" {
			c.Close("")
		}
	}
}

func (cl *Client) call(c *ClientConn, name string, f func(core.Connection)) {
	if f == nil {
		return
	}
	defer cl.recoverCallback(c, name)
	f(c)
}

func (cl *Client) callMessage(c *ClientConn, f func(core.Connection, []byte), msg []byte) {
	defer cl.recoverCallback(c, "OnMessage")
	f(c, msg)
}

func (cl *Client) callError(c *ClientConn, code int, msg string) {
	cl.log().Debug("websocket client error", "url", cl.URL, "code", code, "err", msg)
	if cl.OnError == nil {
		return
	}
	defer cl.recoverCallback(c, "OnError")
	cl.OnError(c, code, msg)
}

// ClientConn is one connection of a Client. It is a core.Connection, so
// handlers written for server connections and this package's functions
// (SendBinary, Ping, CloseWith, CloseStatus, ...) work with it. Its
// methods are safe for concurrent use; Send blocks until the message is
// written or WriteTimeout passes.
type ClientConn struct {
	// UserData is the user's own value for this connection.
	UserData any

	cl      *Client
	id      int
	sock    net.Conn
	r       io.Reader
	st      *conn
	subp    string
	limit   int
	wmu     sync.Mutex
	closing atomic.Bool
}

// Send implements core.Connection: data becomes one message of the send
// type, or goes out as it is when raw.
func (c *ClientConn) Send(data string, raw bool) error { return c.SendBytes([]byte(data), raw) }

// SendBytes implements core.Connection.
func (c *ClientConn) SendBytes(data []byte, raw bool) error {
	if c.sock == nil {
		return core.ErrClosed
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !raw {
		b, err := c.st.encode(nil, data)
		if err != nil {
			return err
		}
		data = b
	}
	if c.closing.Load() && !raw {
		return core.ErrClosed
	}
	c.sock.SetWriteDeadline(time.Now().Add(orDur(c.cl.WriteTimeout, DefaultWriteTimeout)))
	if _, err := c.sock.Write(data); err != nil {
		c.sock.Close()
		return fmt.Errorf("%w: %v", core.ErrClosed, err)
	}
	return nil
}

// Close implements core.Connection: it sends data (as a message, if not
// empty) and a close frame (1000) unless one was sent, then waits up to
// DefaultWriteTimeout for the server to end the connection.
func (c *ClientConn) Close(data string) {
	if c.sock == nil || c.closing.Load() {
		return
	}
	if data != "" {
		c.Send(data, false)
	}
	c.st.sendClose(c, CloseNormal, "")
	if !c.closing.Swap(true) {
		c.sock.SetReadDeadline(time.Now().Add(orDur(c.cl.WriteTimeout, DefaultWriteTimeout)))
	}
}

// Destroy closes the socket at once.
func (c *ClientConn) Destroy() {
	c.closing.Store(true)
	if c.sock != nil {
		c.sock.Close()
	}
}

// Subprotocol returns the subprotocol the server chose.
func (c *ClientConn) Subprotocol() string { return c.subp }

func (c *ClientConn) maxMessageSize() int  { return c.limit }
func (c *ClientConn) logger() *slog.Logger { return c.cl.log() }

// GetID implements core.Connection; client ids are negative.
func (c *ClientConn) GetID() int { return c.id }

// Context implements core.Connection: it holds the WebSocket state. Use
// UserData for your own values.
func (c *ClientConn) Context() any {
	if c.st != nil {
		return c.st
	}
	return nil
}

// SetContext implements core.Connection; a ClientConn keeps its WebSocket
// state and ignores v.
func (c *ClientConn) SetContext(v any) {}

// Goer implements core.Connection: a client has none.
func (c *ClientConn) Goer() *core.Goer { return nil }

func (c *ClientConn) RemoteAddr() net.Addr {
	if c.sock == nil {
		return nil
	}
	return c.sock.RemoteAddr()
}

func (c *ClientConn) LocalAddr() net.Addr {
	if c.sock == nil {
		return nil
	}
	return c.sock.LocalAddr()
}

func (c *ClientConn) GetRemoteAddress() string { return addrString(c.RemoteAddr()) }
func (c *ClientConn) GetRemoteIP() string      { h, _ := splitAddr(c.RemoteAddr()); return h }
func (c *ClientConn) GetRemotePort() int       { _, p := splitAddr(c.RemoteAddr()); return p }
func (c *ClientConn) GetLocalAddress() string  { return addrString(c.LocalAddr()) }
func (c *ClientConn) GetLocalIP() string       { h, _ := splitAddr(c.LocalAddr()); return h }
func (c *ClientConn) GetLocalPort() int        { _, p := splitAddr(c.LocalAddr()); return p }

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

func splitAddr(a net.Addr) (string, int) {
	if a == nil {
		return "", 0
	}
	h, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String(), 0
	}
	n, _ := strconv.Atoi(p)
	return h, n
}
