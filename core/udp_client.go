package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxDatagramSize is the largest datagram an AsyncUdpConnection
// sends or accepts when its MaxPackageSize is zero: the largest UDP
// payload over IPv4.
const DefaultMaxDatagramSize = 65507

// ErrPeerUnreachable is what a datagram client reports (with
// ErrCodeConnectFail) when the kernel learnt that an earlier datagram did
// not arrive: nothing listens at the peer's port (ICMP port unreachable),
// or its host or network cannot be reached.
var ErrPeerUnreachable = errors.New("goes: datagram peer unreachable")

// AsyncUdpConnection is a datagram client (workerman's
// AsyncUdpConnection): a UDP (or unixgram) socket connected to one peer.
// Every datagram received is framed by the protocol, as a Goer's UDP side
// frames what it receives (nil: the datagram is the message; otherwise it
// holds whole packages, usually one), and every Send is one datagram.
// Callbacks of one connection never overlap, whether or not a Goer runs.
//
//	c := core.NewAsyncUdpConnection("udp://127.0.0.1:9090", nil)
//	c.OnConnect = func(c core.Connection) { c.Send("ping", false) }
//	c.OnMessage = func(c core.Connection, data []byte) { fmt.Printf("%s\n", data) }
//	c.Connect()
//
// UDP makes no connection: OnConnect runs once the socket is made (sends
// queued before it have gone out), and nothing tells that the peer is
// there but its answers. When the kernel learns that a datagram could not
// be delivered (an ICMP port unreachable: nothing listens there), the next
// read or send reports OnError(c, ErrCodeConnectFail, msg) with
// ErrPeerUnreachable in msg, and the connection stays open: the peer may
// come up and later datagrams reach it. It closes only by Close or
// Destroy, a panicking callback, a socket error, or the Server stopping.
//
// Set the fields before Connect; they must not change while connected,
// except from the connection's own callbacks. The callbacks receive the
// AsyncUdpConnection itself. Methods are safe for concurrent use.
type AsyncUdpConnection struct {
	// Address is where to send, with a scheme: udp://host:port, udp4://,
	// udp6://, unixgram:///path. Without a scheme it is udp.
	Address string
	// Protocol frames each datagram as for a Goer; nil means raw.
	Protocol Protocol
	// BindTo, when set, is the local address the datagrams are sent from
	// and answered to (workerman's bindto context option): "ip",
	// "ip:port", "[ipv6]:port" or ":port" for udp://, a path for
	// unixgram:// (the bind makes the socket file, which stays after the
	// close). Port 0 or none lets the kernel pick. An address that
	// is not this machine's, or a port in use, fails the connect (OnError
	// with ErrCodeConnectFail, then OnClose). Empty: the kernel's choice
	// (on Linux a unixgram client is bound to an abstract address).
	BindTo string
	// Server, when set, lends its logger; when it stops the connection
	// closes, and a stopped Server's connection does not connect.
	Server *Goer
	// Logger overrides the logger (default: Server's, else slog.Default).
	Logger *slog.Logger

	// ConnectTimeout bounds making the socket, the name lookup included
	// (DefaultConnectTimeout when zero).
	ConnectTimeout time.Duration
	// MaxSendBufferSize limits the bytes of datagrams waiting to be sent,
	// before the connect or while the kernel's buffer is full
	// (DefaultMaxSendBufferSize when zero).
	MaxSendBufferSize int
	// MaxPackageSize limits one datagram, sent (after encoding) or
	// received (DefaultMaxDatagramSize when zero). A larger Send is
	// refused with ErrPackageTooLarge; a larger datagram received is
	// dropped and reported with ErrCodePackageTooLarge. The read buffer
	// has this size; set it above 65507 only for unixgram.
	MaxPackageSize int
	// CloseTimeout bounds how long Close sends what is queued
	// (DefaultCloseTimeout when zero).
	CloseTimeout time.Duration
	// AutoReconnect, when set, connects again after a failed connect and
	// after every close that neither Close, Destroy nor the Server's stop
	// asked for, waiting as the Backoff says.
	AutoReconnect *Backoff

	// OnConnect runs once the socket is made.
	OnConnect func(c Connection)
	// OnMessage runs for every message decoded from a datagram; data is
	// valid until it returns.
	OnMessage func(c Connection, data []byte)
	// OnClose runs once per Connect: after the socket is closed, or after
	// OnError when it could not be made. Reconnect may be called from it.
	OnClose func(c Connection)
	// OnError reports errors with an ErrCode* code: ErrCodeConnectFail for
	// a socket that could not be made and for ErrPeerUnreachable,
	// ErrCodeSendFail for a refused or failed send, ErrCodePackageTooLarge
	// and ErrCodeProtocol for a datagram dropped, ErrCodePanic, ErrCodeIO.
	OnError func(c Connection, code int, msg string)
	// OnBufferFull runs when the datagrams waiting to be sent reach
	// MaxSendBufferSize; OnBufferDrain when they have been sent.
	OnBufferFull  func(c Connection)
	OnBufferDrain func(c Connection)

	// UserData is the user's own value; core never touches it.
	UserData any

	ctx   atomic.Pointer[ctxBox]
	stats Stats

	mu       sync.Mutex
	id       int
	state    int // udpIdle, udpConnecting, udpOpen, udpClosing
	sess     *udpSession
	pending  [][]byte // datagrams sent while connecting
	pendingN int
	// pendingFull: OnBufferFull fired for the datagrams waiting for the
	// socket; OnBufferDrain follows once they are written.
	pendingFull bool
	closeReq    bool   // Close was called while connecting
	closeMsg    string // its data
	destroy     bool   // Destroy was called while connecting
	stopped     bool   // Close, Destroy or the Server's stop: no automatic reconnect
	retry       *time.Timer
	cancel      context.CancelFunc
	attempt     int
	// Pipe's low-water notice (udp_client_pipe.go): the sources told to
	// read on once the queue they filled is below half its limit; lowArmed
	// while connecting, handed to the socket once it is made. out: where
	// a's own messages are piped.
	low      lowWaiters
	lowArmed bool
	out      Piper

	// The lane: callbacks run while laneMu is held (see lane.go).
	laneMu sync.Mutex
	evMu   sync.Mutex
	events []udpEvent
}

const (
	udpIdle = iota
	udpConnecting
	udpOpen
	udpClosing
)

// udpSession is one socket of an AsyncUdpConnection: a Connect's, until
// it is closed.
type udpSession struct {
	sock net.Conn
	tw   TryWriter // nil: every datagram goes through the writer
	stop chan struct{}

	// guarded by AsyncUdpConnection.mu
	queue   [][]byte // datagrams waiting for the writer
	queued  int      // their bytes
	writing bool     // the writer goroutine runs
	full    bool     // OnBufferFull fired; OnBufferDrain pending
	dead    bool     // the socket is closed: nothing more is written

	closing atomic.Bool // Close or Destroy began (written under mu)
	done    bool        // OnClose ran; its events are dropped (lane)

	// PauseRecv (udp_client_pipe.go): paused is written under mu;
	// resumed is closed when the pause ends (ResumeRecv, a close).
	paused  atomic.Bool
	resumed chan struct{}
	// Pipe's low-water notice (udp_client_pipe.go), under mu: armed when
	// a piped datagram filled the queue.
	lowArmed bool
}

// NewAsyncUdpConnection returns a datagram client to address (see
// AsyncUdpConnection.Address) speaking protocol (nil: raw). Connect
// starts it. A stream address (tcp://, unix://, ssl://) is dialed by
// NewAsyncConnection.
func NewAsyncUdpConnection(address string, protocol Protocol) *AsyncUdpConnection {
	return &AsyncUdpConnection{Address: address, Protocol: protocol}
}

var _ Connection = (*AsyncUdpConnection)(nil)

func (a *AsyncUdpConnection) logger() *slog.Logger {
	if a.Logger != nil {
		return a.Logger
	}
	if a.Server != nil {
		return a.Server.logger()
	}
	return slog.Default()
}

func (a *AsyncUdpConnection) maxDatagram() int {
	if a.MaxPackageSize > 0 {
		return a.MaxPackageSize
	}
	return DefaultMaxDatagramSize
}

func (a *AsyncUdpConnection) maxSend() int {
	return positiveOr(a.MaxSendBufferSize, DefaultMaxSendBufferSize)
}

func (a *AsyncUdpConnection) closeTimeout() time.Duration {
	return positiveOr(a.CloseTimeout, DefaultCloseTimeout)
}

// Connect makes the socket and returns at once; OnConnect, or OnError and
// OnClose, follow. Sends made before the socket is up are queued
// (MaxSendBufferSize at most) and go out first. Connect on a connection
// that is connecting or open does nothing. Safe for concurrent use.
func (a *AsyncUdpConnection) Connect() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopped = false
	a.connectLocked()
}

func (a *AsyncUdpConnection) connectLocked() {
	if a.state != udpIdle {
		return
	}
	if a.id == 0 {
		a.id = int(nextConnID.Add(1))
	}
	if a.retry != nil {
		a.retry.Stop()
		a.retry = nil
	}
	a.state = udpConnecting
	a.destroy = false
	ctx, cancel := context.WithTimeout(context.Background(), positiveOr(a.ConnectTimeout, DefaultConnectTimeout))
	a.cancel = cancel
	go a.dial(ctx, cancel)
}

// dial makes the socket and serves it; it runs on its own goroutine.
func (a *AsyncUdpConnection) dial(ctx context.Context, cancel context.CancelFunc) {
	defer cancel()
	scheme, addr := splitPacketScheme(a.Address)
	d, err := lookupPacketDialer(scheme)
	var sock net.Conn
	if err == nil {
		if a.serverStopped() {
			err = ErrServerStopped
		} else {
			sock, err = dialPacket(ctx, d, scheme, addr, a.BindTo)
		}
	}
	if err != nil {
		a.connectFailed(ctx, err)
		return
	}
	s := &udpSession{sock: sock, stop: make(chan struct{})}
	s.tw, _ = sock.(TryWriter)

	// The lane is taken before the socket is published: the callbacks of
	// the new socket (a refused send, OnBufferDrain) wait for OnConnect,
	// and OnConnect for the last OnClose.
	a.laneMu.Lock()
	a.mu.Lock()
	a.cancel = nil
	if a.destroy {
		a.destroy = false
		a.mu.Unlock()
		a.laneMu.Unlock()
		sock.Close()
		a.connectFailed(ctx, context.Canceled)
		return
	}
	a.sess, a.state, a.attempt = s, udpOpen, 0
	a.ctx.Store(nil)
	// The queued datagrams go first; they were accepted already, so the
	// limit does not refuse them now. OnBufferFull fired for them if they
	// reached it: OnBufferDrain follows once they are written.
	s.full, a.pendingFull = a.pendingFull, false
	for _, p := range a.pending {
		a.writeLocked(s, p, true, true)
	}
	a.pending, a.pendingN = nil, 0
	s.lowArmed, a.lowArmed = a.lowArmed, false
	low := a.lowWaterLocked(s)
	drained := s.full && !s.writing
	if drained {
		s.full = false
	}
	closeReq, closeMsg := a.closeReq, a.closeMsg
	a.closeReq, a.closeMsg = false, ""
	a.mu.Unlock()
	if closeReq {
		a.closeSession(s, closeMsg)
	}
	if a.Server != nil {
		go a.watchServer(a.Server, s)
	}
	a.call(s, "OnConnect", a.OnConnect)
	if drained {
		a.call(s, "OnBufferDrain", a.OnBufferDrain)
	}
	a.unlockLane()
	if low != nil {
		low()
	}
	a.serve(s)
}

// serve reads datagrams until the socket is closed.
func (a *AsyncUdpConnection) serve(s *udpSession) {
	limit := a.maxDatagram()
	rw, _ := s.sock.(ReadWaiter)
	pooled := rw != nil && limit == DefaultMaxDatagramSize
	var own []byte
	if !pooled {
		own = make([]byte, limit+1) // one more: a longer datagram shows
	}
	var err error
	for {
		var d []byte
		var p *[]byte
		a.waitResumed(s)
		d, p, err = a.read(s, rw, own)
		if err != nil {
			if s.closing.Load() || !unreachable(err) {
				break
			}
			a.laneMu.Lock()
			a.callError(s, ErrCodeConnectFail, a.unreachableMsg(err))
			a.unlockLane()
			continue
		}
		a.stats.BytesRead.Add(int64(len(d)))
		a.laneMu.Lock()
		switch {
		case len(d) > limit:
			a.stats.Dropped.Add(1)
			a.callError(s, ErrCodePackageTooLarge, fmt.Sprintf("%v: a datagram of more than %d bytes dropped", ErrPackageTooLarge, limit))
		case !s.closing.Load():
			a.frame(s, d)
		}
		a.unlockLane()
		if p != nil {
			udpReadBufs.Put(p)
		}
	}
	a.finish(s, err)
}

// udpReadBufs lends read buffers to the clients of the default limit
// whose sockets wait for a datagram without one (ReadWaiter): an idle
// client holds none.
var udpReadBufs = sync.Pool{New: func() any {
	b := make([]byte, DefaultMaxDatagramSize+1)
	return &b
}}

// read reads one datagram into own, or into a buffer from udpReadBufs
// (when own is nil), which it returns for the caller to put back.
func (a *AsyncUdpConnection) read(s *udpSession, rw ReadWaiter, own []byte) ([]byte, *[]byte, error) {
	if rw != nil {
		if err := rw.WaitReadable(); err != nil {
			return nil, nil, err
		}
		a.waitResumed(s) // paused meanwhile: the datagram waits in the kernel
	}
	buf, p := own, (*[]byte)(nil)
	if buf == nil {
		p = udpReadBufs.Get().(*[]byte)
		buf = *p
	}
	n, err := s.sock.Read(buf)
	if err != nil {
		if p != nil {
			udpReadBufs.Put(p)
		}
		return nil, nil, err
	}
	// A socket that cannot wait without reading (not ReadWaiter) was
	// read while it was paused: the datagram waits here instead.
	a.waitResumed(s)
	return buf[:n], p, nil
}

// frame delivers the messages of one datagram; the lane is held.
func (a *AsyncUdpConnection) frame(s *udpSession, d []byte) {
	err := frameDatagram(a.Protocol, a, d, func(msg []byte) bool {
		a.stats.Requests.Add(1)
		if f := a.OnMessage; f != nil {
			defer a.recoverCallback(s, "OnMessage")
			f(a, msg)
		}
		return !s.closing.Load()
	})
	if err != nil {
		a.stats.Dropped.Add(1)
		code := ErrCodeProtocol
		if errors.Is(err, ErrPackageTooLarge) {
			code = ErrCodePackageTooLarge
		}
		a.callError(s, code, err.Error())
	}
}

func (a *AsyncUdpConnection) unreachableMsg(err error) string {
	return fmt.Sprintf("%v: %s: %v", ErrPeerUnreachable, a.Address, err)
}

// finish ends a session after its reading stopped with err: the socket
// is closed, OnClose runs, and an automatic reconnect is scheduled.
func (a *AsyncUdpConnection) finish(s *udpSession, err error) {
	a.mu.Lock()
	asked := s.closing.Load()
	s.closing.Store(true)
	s.dead = true
	s.queue, s.queued = nil, 0
	s.lowArmed = false
	a.resumeLocked(s)
	if a.sess == s {
		a.sess, a.state = nil, udpIdle
	}
	a.mu.Unlock()
	s.sock.Close()
	close(s.stop)

	a.laneMu.Lock()
	if err != nil && !asked && !isClosedError(err) {
		a.callError(s, ErrCodeIO, err.Error())
	}
	a.runEvents()
	s.done = true
	a.call(nil, "OnClose", a.OnClose)
	a.unlockLane()
	a.afterClose()
}

// connectFailed reports a socket that could not be made: OnError, then
// OnClose.
func (a *AsyncUdpConnection) connectFailed(ctx context.Context, err error) {
	a.mu.Lock()
	a.state = udpIdle
	a.pending, a.pendingN = nil, 0
	a.closeReq, a.closeMsg = false, ""
	a.pendingFull = false
	a.lowArmed = false
	a.destroy = false
	a.cancel = nil
	stopped := a.stopped
	a.mu.Unlock()
	msg := connectFailMsg(ctx, a.Address, err)
	a.laneMu.Lock()
	a.runEvents() // those of the queue that waited for the socket first
	if !stopped || !errors.Is(err, context.Canceled) {
		a.callError(nil, ErrCodeConnectFail, msg)
	}
	a.call(nil, "OnClose", a.OnClose)
	a.unlockLane()
	a.afterClose()
}

// afterClose schedules an automatic reconnect.
func (a *AsyncUdpConnection) afterClose() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.AutoReconnect == nil || a.stopped || a.state != udpIdle || a.retry != nil || a.serverStopped() {
		return
	}
	a.attempt++
	a.reconnectLocked(a.AutoReconnect.delay(a.attempt), true)
}

func (a *AsyncUdpConnection) serverStopped() bool { return serverStopping(a.Server) }
