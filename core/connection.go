package core

import "net"

// Connection is what every callback receives: one TCP, Unix or TLS stream
// connection (*TCPConnection) or the sender of one UDP datagram
// (*UDPConnection). All methods are safe for concurrent use.
type Connection interface {
	// Send encodes data with the connection's protocol (unless raw) and
	// queues it. It never blocks on a slow peer. A nil error means the data
	// was accepted for sending; ErrClosed and ErrSendBufferFull say why not.
	Send(data string, raw bool) error
	// SendBytes is Send for binary data, without a conversion. data may be
	// reused as soon as SendBytes returns.
	SendBytes(data []byte, raw bool) error
	// Close sends data (encoded, if not empty), then closes the connection
	// once everything queued has been written, or after a timeout.
	Close(data string)

	GetRemoteAddress() string
	GetRemoteIP() string
	GetRemotePort() int
	GetLocalAddress() string
	GetLocalIP() string
	GetLocalPort() int
	RemoteAddr() net.Addr
	LocalAddr() net.Addr

	// GetID returns the connection's unique id within its process.
	GetID() int
	// Context and SetContext hold the protocol's per-connection state.
	// Protocols use them; user code has TCPConnection.UserData.
	Context() any
	SetContext(v any)
	// Goer returns the server the connection belongs to.
	Goer() *Goer
}
