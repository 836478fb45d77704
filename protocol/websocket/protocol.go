package websocket

import (
	"net/http"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/shunhui19/goes/core"
)

// Defaults applied where a Protocol field is zero.
const (
	DefaultMaxHandshakeSize     = 8 << 10
	DefaultMaxPendingSize       = 1 << 20
	DefaultCompressionThreshold = 256
)

// Protocol is the WebSocket server protocol (RFC 6455) for a core.Goer:
// it answers the opening handshake, reassembles fragmented messages, answers
// pings, runs the close handshake and hands whole messages to OnMessage.
// Send on a WebSocket connection sends one message of the connection's send
// type (text unless changed with SetSendType or SendType).
//
// The limit on one incoming message is the connection's MaxPackageSize.
//
// Set the fields before the Goer starts; a Protocol must not be copied after
// first use. One Protocol may serve several Goers.
type Protocol struct {
	// OnWebSocketConnect runs on the connection's callback lane when a valid
	// upgrade request arrived, before it is answered. h.Request shows the
	// path, query, headers, cookies and origin. The callback may choose a
	// subprotocol (h.Protocol), add response headers (h.Header), turn
	// compression off for this connection, or refuse the connection by
	// returning Reject(status, reason); any other error refuses it with 403.
	// Messages sent before the handshake completes are queued and follow the
	// 101 response; they are dropped if the handshake fails.
	OnWebSocketConnect func(c core.Connection, h *Handshake) error

	// HTTPHandler answers plain HTTP requests (no Upgrade header) on the
	// same port, one request per connection, for instance the page that
	// opens the WebSocket. nil answers them with 426 Upgrade Required.
	// It runs on the connection's callback lane.
	HTTPHandler http.Handler

	// Subprotocols the server speaks, in its order of preference. The first
	// one the client also offers is chosen before OnWebSocketConnect runs.
	// A client offers them, and fails the handshake if the server chooses
	// another.
	Subprotocols []string

	// SendType is the type of the messages Send sends on new connections
	// (zero: TextMessage). SetSendType changes it per connection.
	SendType MessageType

	// Compression negotiates permessage-deflate (RFC 7692, without context
	// takeover) when a client offers it; a client offers it. Off by
	// default.
	Compression bool
	// CompressionThreshold: shorter messages are sent uncompressed
	// (DefaultCompressionThreshold when zero).
	CompressionThreshold int

	// PingInterval, when not zero, sends a ping on every open connection
	// each interval and closes connections that sent nothing (no pong, no
	// message) during the interval that followed a ping. One sweep per
	// Goer pings all its connections at once, so a new connection gets its
	// first ping within an interval.
	//
	// A connection the server stopped reading because its peer does not
	// take its messages (see core.Goer.SendHighWater) cannot have its pong
	// read: if it stays paused for the interval after a ping, it is closed
	// like a silent one. A peer that does not read is dead for the
	// heartbeat; choose the interval above the longest stall to accept.
	PingInterval time.Duration

	// KeepRequest keeps each connection's upgrade request head so that
	// RequestOf works after the handshake, at the cost of the head's size
	// per open connection. Without it the request is dropped once the
	// handshake is done: read what you need from Handshake.Request in
	// OnWebSocketConnect (and keep it in the connection's UserData).
	KeepRequest bool

	// Observer, when set, is told of frames and close codes (see Observer).
	Observer Observer

	// ServeWhileDraining keeps open connections served during a graceful
	// stop or a reload's drain, until they end or the Goer's
	// GracefulTimeout passes (they then get 1001). By default they get a
	// 1001 (going away) close frame as soon as the drain begins, so that
	// clients reconnect, to the new process in a reload (see OnConnDrain).
	ServeWhileDraining bool

	// Header holds extra headers of a client's upgrade request (Origin,
	// Cookie, Authorization, ...); see ClientHandshake.
	Header http.Header

	// MaxHandshakeSize bounds the request head of the opening handshake
	// (DefaultMaxHandshakeSize when zero); a longer one gets 431. A
	// client's limit on the server's response head.
	MaxHandshakeSize int
	// MaxPendingSize bounds what a server's connection may be sent
	// before its handshake completes (DefaultMaxPendingSize when zero). A
	// client's sends before the server's answer wait in the
	// AsyncConnection's queue instead (MaxSendBufferSize).
	MaxPendingSize int

	initMu sync.Mutex               // makes the per-connection state exactly once; guards sweeps
	sweeps map[*core.Goer]sweepTask // the heartbeat sweeps that run
}

// New returns a WebSocket protocol with the defaults.
func New() *Protocol { return &Protocol{} }

// NewWebsocketProtocol is New, for readers of the manual's naming.
func NewWebsocketProtocol() *Protocol { return New() }

// Name implements core.ProtocolNamer.
func (p *Protocol) Name() string { return protoName }

// Paced implements core.Paced: a connection stops reading messages while
// its send queue is past the high-water mark, so that an echo or an answer
// sent from OnMessage can be queued; the peer's further messages wait in
// the kernel and in the peer.
func (p *Protocol) Paced() bool { return true }

func orInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// state returns c's WebSocket state, making it on first use. Send may call
// this from any goroutine, so creation is guarded.
func (p *Protocol) state(c core.Connection) *conn {
	if st, ok := c.Context().(*conn); ok {
		return st
	}
	p.initMu.Lock()
	defer p.initMu.Unlock()
	if st, ok := c.Context().(*conn); ok {
		return st
	}
	st := newConn(p, false)
	c.SetContext(st)
	return st
}

// Input implements core.Protocol: the request head during the handshake,
// then frame headers and payload pieces.
func (p *Protocol) Input(c core.Connection, buf []byte) (int, error) {
	return p.state(c).input(c, buf)
}

// Decode implements core.Protocol. It returns whole messages; handshake,
// control frames and fragments still being assembled return core.ErrSkip.
func (p *Protocol) Decode(c core.Connection, pkg []byte) ([]byte, error) {
	return p.state(c).decode(c, pkg)
}

// Encode implements core.Protocol: data becomes one message of the
// connection's send type.
func (p *Protocol) Encode(c core.Connection, dst, data []byte) ([]byte, error) {
	st := p.state(c)
	out, err := st.encode(dst, data)
	if err == nil {
		st.observeSent(c)
	}
	return out, err
}

// OnConnClose implements core.ConnCloser: it records close code 1006 when
// the connection ended without a close frame, so that OnClose can read the
// outcome with CloseStatus, and stops the heartbeat.
func (p *Protocol) OnConnClose(c core.Connection) {
	if st, ok := c.Context().(*conn); ok {
		st.end()
		st.observeEnd(c)
	}
}

// CloseFrame implements core.CloseFramer: Close(data) on a WebSocket
// connection sends data as a message, then a 1000 (normal closure) close
// frame, and closes once the peer answers it or CloseTimeout passes.
func (p *Protocol) CloseFrame(c core.Connection) []byte {
	st, ok := c.Context().(*conn)
	if !ok {
		return nil
	}
	b := st.farewell(CloseNormal, "")
	if b != nil {
		st.observe(c, true, ws.OpClose)
	}
	return b
}

// Goodbye implements core.Goodbyer: a stopping server sends 1001 (going
// away) to open WebSocket connections.
func (p *Protocol) Goodbye(c core.Connection) []byte {
	st, ok := c.Context().(*conn)
	if !ok {
		return nil
	}
	b := st.goodbye()
	if b != nil {
		st.observe(c, true, ws.OpClose)
	}
	return b
}
