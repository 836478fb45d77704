package websocket

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/shunhui19/goes/core"
)

// Client defaults, applied where a field is zero.
const (
	DefaultDialTimeout = core.DefaultConnectTimeout
	// Deprecated: WriteTimeout is not used any more (see Client.WriteTimeout).
	DefaultWriteTimeout = 10 * time.Second
	DefaultMinBackoff   = 500 * time.Millisecond
	DefaultMaxBackoff   = 30 * time.Second
)

// ClientConn is a Client's connection: the core.AsyncConnection that
// carries it. This package's functions (SendBinary, Ping, CloseWith,
// CloseStatus, SubprotocolOf, ...) work with it.
type ClientConn = core.AsyncConnection

// Client connects to a WebSocket server and runs the same callbacks as a
// Goer: OnConnect once the server accepted the handshake, OnMessage for
// every whole message, OnClose once per connection (and after a failed
// one), OnError. With Reconnect set it connects again after a failed
// connect or a lost connection, waiting MinBackoff, doubling up to
// MaxBackoff.
//
// A Client is a thin layer over core.AsyncConnection with this package's
// Protocol, which may be used directly:
//
//	c := core.NewAsyncConnection("ws://127.0.0.1:8080/chat", websocket.New())
//	c.OnMessage = func(c core.Connection, data []byte) { fmt.Printf("%s\n", data) }
//	c.Connect()
//
// Set the fields before Start; they must not change afterwards. The
// callbacks of one connection never run at the same time.
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
	// MaxSendBufferSize limits what is queued for sending
	// (core.DefaultMaxSendBufferSize when zero); Send refuses more with
	// core.ErrSendBufferFull.
	MaxSendBufferSize int
	// DialTimeout bounds the TCP, TLS and WebSocket handshakes.
	DialTimeout time.Duration
	// CloseTimeout bounds a close: Stop during the handshake waits this
	// long for the server's answer, then as long for the close handshake
	// (core.DefaultCloseTimeout when zero).
	CloseTimeout time.Duration
	// MaxRedirects is how many redirects (3xx answers to the handshake)
	// in a row the client follows, at once, to the Location's ws:// or
	// wss:// URL (http and https count as ws and wss), never from wss to
	// ws. Zero follows none: the handshake fails with ErrRedirect, as
	// every redirect not followed does. A reconnect after a lost
	// connection goes to URL again.
	MaxRedirects int
	// Deprecated: sends are queued (MaxSendBufferSize) and never block, so
	// there is no write to time out; a server that stops reading fills the
	// queue, and PingInterval drops one that stops answering.
	WriteTimeout time.Duration
	// PingInterval, when not zero, pings the server every interval and
	// drops the connection when nothing came back for a whole interval.
	PingInterval time.Duration
	// Reconnect connects again after a failed connect or a lost connection.
	Reconnect              bool
	MinBackoff, MaxBackoff time.Duration
	// Logger receives the client's log (default slog.Default()).
	Logger *slog.Logger

	OnConnect func(c core.Connection)
	OnMessage func(c core.Connection, data []byte)
	OnClose   func(c core.Connection)
	OnError   func(c core.Connection, code int, msg string)

	mu       sync.Mutex
	ac       *core.AsyncConnection
	started  bool
	stopping bool
	attempts int           // Connects whose OnClose has not run yet
	idle     chan struct{} // closed when stopping and attempts reaches 0
	up       bool          // the current attempt reached OnConnect
	wait     time.Duration // the next back-off
	retry    *time.Timer
	hops     int // redirects followed since the last OnConnect
}

// NewClient returns a Client for url.
func NewClient(url string) *Client { return &Client{URL: url} }

// Start begins connecting in the background and returns at once. A failed
// connect is reported to OnError with core.ErrCodeConnectFail, then
// OnClose.
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
	cl.idle = make(chan struct{})
	p := &Protocol{SendType: cl.SendType, Compression: cl.Compression, Subprotocols: cl.Protocols,
		Header: cl.Header, PingInterval: cl.PingInterval}
	ac := core.NewAsyncConnection(cl.URL, p)
	ac.TLSConfig = cl.TLSConfig
	ac.ConnectTimeout = cl.DialTimeout
	ac.CloseTimeout = cl.CloseTimeout
	ac.MaxPackageSize = cl.MaxMessageSize
	ac.MaxSendBufferSize = cl.MaxSendBufferSize
	ac.Logger = cl.Logger
	ac.OnConnect = cl.connected
	ac.OnMessage = cl.OnMessage
	ac.OnError = cl.OnError
	ac.OnClose = cl.closed
	cl.ac = ac
	cl.wait = cl.minBackoff()
	cl.connectLocked()
	return nil
}

func (cl *Client) connectLocked() {
	cl.attempts++
	cl.up = false
	cl.ac.Connect()
}

func (cl *Client) connected(c core.Connection) {
	cl.mu.Lock()
	cl.up = true
	cl.hops = 0
	cl.wait = cl.minBackoff()
	cl.mu.Unlock()
	if f := cl.OnConnect; f != nil {
		f(c)
	}
}

// closed runs the user's OnClose, then follows a redirect (MaxRedirects),
// connects again after the back-off (Reconnect) or lets Stop return.
func (cl *Client) closed(c core.Connection) {
	next := cl.redirectTarget(c)
	defer func() {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		cl.attempts--
		switch {
		case cl.stopping:
			if cl.attempts == 0 {
				close(cl.idle)
			}
		case next != "":
			cl.hops++
			cl.ac.Address = next // from the connection's OnClose: allowed
			cl.connectLocked()
		case cl.Reconnect:
			wait := cl.wait
			if !cl.up {
				cl.wait = min(2*cl.wait, cl.maxBackoff())
			}
			cl.retry = time.AfterFunc(wait, cl.again)
		}
	}()
	if f := cl.OnClose; f != nil {
		f(c)
	}
}

func (cl *Client) again() {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if !cl.stopping {
		cl.hops = 0
		cl.ac.Address = cl.URL // the AsyncConnection is idle
		cl.connectLocked()
	}
}

// redirectTarget returns the URL to follow when c's handshake was
// redirected and MaxRedirects allows it, else "" (a redirect not followed
// is logged).
func (cl *Client) redirectTarget(c core.Connection) string {
	loc, status := RedirectOf(c)
	if loc == "" {
		return ""
	}
	cl.mu.Lock()
	hops, from := cl.hops, cl.ac.Address
	cl.mu.Unlock()
	why := ""
	switch u, err := url.Parse(loc); {
	case cl.MaxRedirects <= 0:
		return ""
	case hops >= cl.MaxRedirects:
		why = fmt.Sprintf("more than MaxRedirects (%d) in a row", cl.MaxRedirects)
	case err != nil || u.Scheme != "ws" && u.Scheme != "wss" || u.Host == "":
		why = "not a ws:// or wss:// URL"
	case u.Scheme == "ws" && strings.HasPrefix(strings.ToLower(from), "wss:"):
		why = "from wss to ws"
	default:
		return loc
	}
	cl.logger().Warn("websocket: redirect not followed", "from", from, "status", status, "location", loc, "why", why)
	return ""
}

func (cl *Client) logger() *slog.Logger {
	if cl.Logger != nil {
		return cl.Logger
	}
	return slog.Default()
}

func (cl *Client) minBackoff() time.Duration {
	if cl.MinBackoff > 0 {
		return cl.MinBackoff
	}
	return DefaultMinBackoff
}

func (cl *Client) maxBackoff() time.Duration {
	m := cl.MaxBackoff
	if m <= 0 {
		m = DefaultMaxBackoff
	}
	return max(m, cl.minBackoff())
}

// Stop closes the connection with 1000 (normal closure), stops
// reconnecting and returns once OnClose has run. During the handshake the
// close waits for the server's answer, CloseTimeout at most, so that what
// was sent meanwhile goes out first. Safe for concurrent use,
// except from the Client's own callbacks.
func (cl *Client) Stop() {
	cl.mu.Lock()
	if !cl.started {
		cl.mu.Unlock()
		return
	}
	first := !cl.stopping
	cl.stopping = true
	if cl.retry != nil {
		cl.retry.Stop()
	}
	if first && cl.attempts == 0 {
		close(cl.idle)
	}
	ac, idle := cl.ac, cl.idle
	cl.mu.Unlock()
	if first {
		CloseWith(ac, CloseNormal, "")
	}
	<-idle
}

// Conn returns the current connection once the server accepted it, or
// nil between connections.
func (cl *Client) Conn() *ClientConn {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.ac == nil || !IsOpen(cl.ac) {
		return nil
	}
	return cl.ac
}
