package core

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"
)

// DefaultConnectTimeout bounds a connect when AsyncConnection.ConnectTimeout
// is zero: a refused connect is reported at once, an address that never
// answers after this long.
const DefaultConnectTimeout = 10 * time.Second

// Errors of a connect, given to OnError with ErrCodeConnectFail.
var (
	// ErrConnectTimeout: the peer did not answer within ConnectTimeout.
	ErrConnectTimeout = errors.New("goes: connect timed out")
	// ErrConnectFailed: the connect failed (refused, unreachable, TLS).
	ErrConnectFailed = errors.New("goes: connect failed")
)

// AsyncConnection is a connection goes dials out (workerman's
// AsyncTcpConnection): the same callbacks, the same state machine and
// guarantees as an accepted connection (the callbacks of one connection
// never overlap, Send never blocks and queues at most MaxSendBufferSize,
// MaxPackageSize, panics contained), whether or not a Goer runs.
//
//	c := core.NewAsyncConnection("tcp://127.0.0.1:6379", nil)
//	c.OnConnect = func(c core.Connection) { c.Send("PING\r\n", true) }
//	c.OnMessage = func(c core.Connection, data []byte) { fmt.Printf("%s", data) }
//	c.Connect()
//
// Set the fields before Connect; they must not change while connected,
// except from the connection's own callbacks. The callbacks receive the
// AsyncConnection itself. Methods are safe for concurrent use.
type AsyncConnection struct {
	// Address is where to connect, with a scheme: tcp://host:port,
	// tcp4://, tcp6://, unix:///path, ssl://host:port (TLSConfig), or a
	// URL of a scheme the protocol's module registered (ws://host/path,
	// wss://: see RegisterURLScheme). Without a scheme it is tcp.
	Address string
	// Protocol frames the stream as for a Goer; nil means raw.
	Protocol Protocol
	// BindTo, when set, is the local address the connection is made
	// from (workerman's bindto context option): "ip", "ip:port", "[ipv6]:port" or ":port"
	// for tcp:// and ssl:// (and the URL schemes over them), a path for
	// unix:// (the bind makes the socket file, which stays after the
	// close: remove it before connecting from it again). Port 0 or none
	// lets the kernel pick the port. An address
	// that is not this machine's, or a port in use, fails the connect
	// (OnError with ErrCodeConnectFail, then OnClose). Empty: the
	// kernel's choice.
	BindTo string
	// TLSConfig configures ssl://; nil uses the defaults with the host
	// name of Address as ServerName.
	TLSConfig *tls.Config
	// Server, when set, lends its logger and its Engine (the connection is
	// served like the Server's own: on the epoll engine's event loops, or
	// by a goroutine of its own), and its Stop ends the connection: once
	// the Server's own connections have ended, it closes the connection
	// after what is queued is written (CloseTimeout bounds that) and
	// waits for it, and automatic reconnection ends. The connection is not
	// one of its Connections. Without a Server the engine is
	// GOES_ENGINE's, else the transport's default.
	Server *Goer

	// Logger overrides the logger (default: Server's, else slog.Default).
	Logger *slog.Logger

	// ConnectTimeout bounds each connect, the protocol's handshake
	// included (ClientHandshaker), DefaultConnectTimeout when zero.
	ConnectTimeout time.Duration
	// MaxSendBufferSize limits the bytes queued for sending, before the
	// connect too (DefaultMaxSendBufferSize when zero).
	MaxSendBufferSize int
	// MaxPackageSize limits one incoming package (DefaultMaxPackageSize
	// when zero).
	MaxPackageSize int
	// CloseTimeout bounds how long Close flushes (DefaultCloseTimeout when
	// zero).
	CloseTimeout time.Duration
	// AutoReconnect, when set, connects again after every close that Close
	// did not ask for, waiting as the Backoff says.
	AutoReconnect *Backoff

	// OnConnect runs once the connection is up (for a protocol with a
	// handshake, such as WebSocket, once the peer accepted it); sends
	// queued before it are already on their way.
	OnConnect func(c Connection)
	// OnMessage runs for every decoded message; data is valid until it
	// returns.
	OnMessage func(c Connection, data []byte)
	// OnClose runs once per Connect: after the connection ends, or after
	// OnError when the connect failed. Reconnect may be called from it. The
	// next connect (Connect, Reconnect or AutoReconnect, from here or from
	// elsewhere) begins once it has returned, so the next OnConnect never
	// overlaps it.
	OnClose func(c Connection)
	// OnError reports errors with an ErrCode* code; a failed connect is
	// ErrCodeConnectFail (ErrConnectTimeout or ErrConnectFailed in msg).
	OnError       func(c Connection, code int, msg string)
	OnBufferFull  func(c Connection)
	OnBufferDrain func(c Connection)

	// UserData is the user's own value; core never touches it.
	UserData any

	id int
	st *clientState // made by the first connect

	mu    sync.Mutex
	state uint8 // acIdle, acConnecting, acOpen, acClosing
	// stopped: Close was called: no automatic reconnect.
	stopped bool
	// connectWhenIdle: a connect was asked for while the last connection
	// was still closing; closed starts it once OnClose has run.
	connectWhenIdle bool
	attempt         int32 // connects failed in a row, for AutoReconnect
	conn            *TCPConnection
	// cx is the state of a connect, from Connect until the connection is
	// up (its protocol's handshake included); nil otherwise.
	cx    *connecting
	retry *time.Timer
	// link is the link of a's connections (see connLink): a, and what
	// Pipe set up.
	link connLink
}

// clientState is what an AsyncConnection makes at its first connect and
// keeps: the counters of its connections, and the Goer that serves them
// (see clientGoer).
type clientState struct {
	stats Stats
	owner *Goer
	// prev and next link a's Server's live clients (client_live.go),
	// under the Server's liveMu.
	prev, next *AsyncConnection
}

// connecting is what an AsyncConnection keeps while it connects, and
// drops once connected: an open connection carries none of it.
type connecting struct {
	cancel context.CancelFunc
	// The queue waiting for the connect (see client_pending.go).
	pending  []pendingSend
	pendingN int
	closeMsg string // the data of a Close called while connecting
	// The callbacks due while connecting (see client_pending.go), and
	// preMu, held while they run and by the connect that hands them on.
	preEvents  []laneEvent
	preMu      sync.Mutex
	hsTimer    *time.Timer // bounds the protocol's handshake (ClientHandshaker)
	hsDeadline time.Time   // when hsTimer fires
	// Pipe's low-water notice (see connExtra), armed while connecting;
	// handed to the connection once it is up.
	low lowWaiters
	// ctx is the AsyncConnection's Context until there is a connection,
	// which starts with it (see ClientContexter).
	ctx any
	// closeReq: Close was called while connecting (or handshaking: the
	// close waits for the answer); closeWriteReq: a
	// Pipe's closeWrite (halfclose.go); pendingFull: OnBufferFull is due
	// or ran for the queue.
	closeReq, closeWriteReq, pendingFull bool
}

const (
	acIdle = iota
	acConnecting
	acOpen
	acClosing // the connection ended and OnClose runs: a new connect waits for it
)

// NewAsyncConnection returns a client connection to address (see
// AsyncConnection.Address) speaking protocol (nil: raw). Connect starts it.
func NewAsyncConnection(address string, protocol Protocol) *AsyncConnection {
	return &AsyncConnection{Address: address, Protocol: protocol}
}

// init gives a its id, counters and Goer; a.mu is held.
func (a *AsyncConnection) init() {
	if a.id == 0 {
		a.id = int(nextConnID.Add(1))
	}
	if a.st != nil {
		return
	}
	a.st = &clientState{owner: clientGoer(a.Server, a.Logger)}
	a.link.client = true
}

func call(f func(Connection), c Connection) {
	if f != nil {
		f(c)
	}
}

// Connect starts connecting and returns at once; OnConnect, or OnError and
// OnClose, follow. Sends made before the connection is up are queued
// (MaxSendBufferSize at most) and go out first once it is. Connect on a
// connection that is connecting or open does nothing. Safe for concurrent
// use.
func (a *AsyncConnection) Connect() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopped = false
	a.connectLocked()
}

func (a *AsyncConnection) connectLocked() {
	if a.state == acClosing {
		a.connectWhenIdle = true // after OnClose: callbacks never overlap
		return
	}
	if a.state != acIdle {
		return
	}
	a.init()
	a.trackLocked()
	if a.retry != nil {
		a.retry.Stop()
		a.retry = nil
	}
	a.state = acConnecting
	a.conn = nil
	ctx, cancel := context.WithTimeout(context.Background(), positiveOr(a.ConnectTimeout, DefaultConnectTimeout))
	cx := &connecting{cancel: cancel}
	if cc, ok := a.Protocol.(ClientContexter); ok {
		cx.ctx = cc.NewClientContext()
	}
	a.cx = cx
	go a.dial(ctx, cx)
}

// dial connects and hands the socket to the engine; it runs on its own
// goroutine.
func (a *AsyncConnection) dial(ctx context.Context, cx *connecting) {
	defer cx.cancel()
	scheme, addr := resolveURL(splitScheme(a.Address))
	d, err := lookupDialer(scheme)
	var sock Socket
	if err == nil {
		sock, err = dialStream(ctx, d, a.engine(), scheme, addr, a.BindTo, a.tlsConfig(scheme, addr))
	}
	if err != nil {
		a.connectFailed(ctx, cx, err)
		return
	}
	cx.preMu.Lock() // callbacks due while connecting run before OnConnect
	a.mu.Lock()
	if ctx.Err() != nil { // Destroy came while the socket was being made
		a.mu.Unlock()
		cx.preMu.Unlock()
		sock.Close()
		a.connectFailed(ctx, cx, ctx.Err())
		return
	}
	g := a.st.owner
	g.conns.Add(1)
	g.open.Add(1)
	a.st.stats.Accepted.Add(1)
	c := a.newConn(sock)
	if cx.ctx != nil {
		c.SetContext(cx.ctx)
	}
	if a.link.handshake {
		a.startHandshakeLocked(ctx, cx, c)
	} else {
		a.cx = nil
	}
	a.conn, a.state = c, acOpen
	for _, ev := range cx.preEvents {
		c.post(ev)
	}
	cx.preEvents = nil
	// c.mu is taken before a.mu is let go: sends from now on queue behind
	// what was queued. With a handshake, that waits for the answer
	// (established).
	c.mu.Lock()
	if cx.hsTimer == nil {
		a.handOverLocked(cx, c)
	}
	if cx.closeReq {
		if cx.hsTimer != nil { // the close waits for the handshake's answer
			a.closeDuringHandshakeLocked(cx, c)
		} else {
			cx.closeReq = false
			c.closeLocked(cx.closeMsg, true)
		}
	}
	a.mu.Unlock()
	cx.preMu.Unlock()
	// Unlocked: writing may resume a piped source, whose lock is taken.
	c.kickLocked()
	d.Serve((*Stream)(c))
}

// newConn makes the state machine of a's connection on sock, with a's
// protocol and limits; a.mu is held.
func (a *AsyncConnection) newConn(sock Socket) *TCPConnection {
	c := newTCPConnection(a.st.owner, sock)
	c.ID = a.id
	c.Protocol = a.Protocol
	c.MaxSendBufferSize = a.maxSend()
	c.MaxPackageSize = a.MaxPackageSize
	if c.MaxPackageSize <= 0 {
		c.MaxPackageSize = DefaultMaxPackageSize
	}
	c.Connections = (*clientStore)(a)
	c.syncLimits()
	_, a.link.handshake = a.Protocol.(ClientHandshaker)
	c.link.Store(&a.link)
	return c
}

func (a *AsyncConnection) tlsConfig(scheme, addr string) *tls.Config {
	if scheme != "ssl" && scheme != "tls" {
		return nil
	}
	conf := a.TLSConfig
	if conf == nil {
		conf = &tls.Config{}
	}
	if conf.ServerName == "" && !conf.InsecureSkipVerify {
		conf = conf.Clone()
		if host, _, err := net.SplitHostPort(addr); err == nil {
			conf.ServerName = host
		}
	}
	return conf
}

// connectFailed reports a failed connect: OnError, then OnClose.
func (a *AsyncConnection) connectFailed(ctx context.Context, cx *connecting, err error) {
	cx.preMu.Lock()
	a.mu.Lock()
	a.state = acClosing
	a.cx = nil
	stopped := a.stopped
	evs := cx.preEvents
	cx.preEvents = nil
	a.mu.Unlock()
	for _, ev := range evs {
		a.runPreEvent(ev)
	}
	msg := connectFailMsg(ctx, a.Address, err)
	a.st.stats.countError(ErrCodeConnectFail)
	a.logger().Debug("connect failed", "goer", a.name(), "conn", a.id, "err", msg)
	if !stopped || !errors.Is(err, context.Canceled) {
		a.safely("OnError", func() {
			if f := a.OnError; f != nil {
				f(a, ErrCodeConnectFail, msg)
			}
		})
	}
	cx.preMu.Unlock()
	a.closed()
}

// closed runs OnClose, then a connect asked for meanwhile (Connect or
// Reconnect, from OnClose or elsewhere), else an automatic reconnect: the
// next connection's OnConnect never runs before this OnClose has
// returned.
func (a *AsyncConnection) closed() {
	a.mu.Lock()
	a.state = acClosing
	a.dropConnectingLocked()
	a.mu.Unlock()
	a.safely("OnClose", func() { call(a.OnClose, a) })
	a.mu.Lock()
	defer a.mu.Unlock()
	a.state = acIdle
	if a.connectWhenIdle {
		a.connectWhenIdle = false
		if !a.stopped {
			a.connectLocked()
			return
		}
	}
	a.untrackLocked() // a reconnect after a delay is tracked again by its connect
	if a.AutoReconnect == nil || a.stopped || a.retry != nil || a.goerStopped() {
		return
	}
	a.attempt++
	a.reconnectLocked(a.AutoReconnect.delay(int(a.attempt)), true)
}

func (a *AsyncConnection) goerStopped() bool { return serverStopping(a.Server) }

// safely runs a callback outside a lane (a failed connect has none),
// recovering and logging a panic.
func (a *AsyncConnection) safely(name string, f func()) {
	defer func() {
		if r := recover(); r != nil {
			a.st.stats.Panics.Add(1)
			a.logger().Error("callback panicked", "goer", a.name(), "callback", name, "conn", a.id,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	f()
}

// Reconnect connects again after d: from OnClose, say, or to replace an
// open connection (which is closed first; the connect waits for its
// OnClose to return, however long d is). Safe for concurrent use.
func (a *AsyncConnection) Reconnect(d time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopped = false
	if a.state == acOpen {
		a.conn.Close("")
	}
	a.reconnectLocked(d, false)
}

// reconnectLocked connects after d; auto: for AutoReconnect, which a
// stopped Server ends.
func (a *AsyncConnection) reconnectLocked(d time.Duration, auto bool) {
	if a.retry != nil {
		a.retry.Stop()
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.retry != t || a.stopped || auto && a.goerStopped() {
			return
		}
		a.retry = nil
		if a.state == acOpen { // the old connection is still closing
			a.connectWhenIdle = true
			return
		}
		a.connectLocked()
	})
	a.retry = t
}

// current returns the open connection, or nil.
func (a *AsyncConnection) current() *TCPConnection {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.state == acOpen {
		return a.conn
	}
	return nil
}

// Send implements Connection. Before the connection is up (with a
// ClientHandshaker protocol, before the peer answered the handshake) the
// data is queued, with a connected queue's limit and callbacks: OnBufferFull once
// it reaches MaxSendBufferSize, ErrSendBufferFull and OnError
// (ErrCodeSendFail) beyond, OnBufferDrain after OnConnect once it is
// written; when there is no connection and none is being made,
// ErrClosed.
func (a *AsyncConnection) Send(data string, raw bool) error {
	return a.send([]byte(data), raw, true)
}

// SendBytes implements Connection.
func (a *AsyncConnection) SendBytes(data []byte, raw bool) error {
	return a.send(data, raw, false)
}

// Close implements Connection. While connecting, data and what was queued
// go out once connected, then the connection closes; with a protocol's
// handshake (ClientHandshaker) once the peer answered it, waiting at most
// CloseTimeout for the answer (no answer: OnError with ErrCodeConnectFail,
// what was queued is dropped). Sends after Close are refused. No automatic
// reconnect follows. Safe for concurrent use.
func (a *AsyncConnection) Close(data string) {
	a.mu.Lock()
	a.stopped = true
	a.connectWhenIdle = false
	if a.retry != nil {
		a.retry.Stop()
		a.retry = nil
	}
	switch a.state {
	case acOpen:
		c := a.conn
		if cx := a.cx; cx != nil { // handshaking
			if !cx.closeReq {
				cx.closeReq, cx.closeMsg = true, data
				a.closeDuringHandshakeLocked(cx, c)
			}
			a.mu.Unlock()
			return
		}
		a.mu.Unlock()
		c.Close(data)
		return
	case acConnecting:
		a.cx.closeReq, a.cx.closeMsg = true, data
	}
	a.mu.Unlock()
}

// Destroy closes at once, dropping what is queued (see
// TCPConnection.Destroy); a connect in progress is abandoned and reported
// with OnClose. No automatic reconnect follows. Safe for concurrent use.
func (a *AsyncConnection) Destroy() {
	a.mu.Lock()
	a.stopped = true
	a.connectWhenIdle = false
	if a.retry != nil {
		a.retry.Stop()
		a.retry = nil
	}
	c, st := a.conn, a.state
	var cancel context.CancelFunc
	if st == acConnecting {
		cancel = a.cx.cancel
	}
	a.mu.Unlock()
	switch st {
	case acOpen:
		c.Destroy()
	case acConnecting:
		cancel()
	}
}
