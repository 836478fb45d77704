package core

// Protocol frames a byte stream into packages, in the manual's three steps.
//
// For every chunk of bytes read from a stream connection core calls Input on
// everything buffered and not yet consumed:
//
//   - Input returns 0 when it cannot tell yet how long the first package is;
//     core keeps the bytes and calls Input again when more arrive.
//   - Input returns n > 0 when the first package is n bytes long. If fewer
//     than n bytes are buffered, core waits for the rest (a protocol may so
//     announce a length from a header before the body arrives).
//   - Input returns an error when the bytes can never form a valid package;
//     core reports it to OnError and closes the connection after flushing
//     whatever the protocol queued (an error response, say).
//
// A package longer than the connection's MaxPackageSize is refused without
// waiting for it to arrive.
//
// Decode turns one whole package into the message handed to OnMessage. It may
// return ErrSkip to consume the package without a message (a handshake, a
// control frame, a piece of a message that is still being assembled).
// pkg is only valid until Decode returns, and the returned message only until
// OnMessage returns; both may alias core's read buffer.
//
// Encode appends the framed form of data to dst and returns the extended
// slice. It is called by Send unless raw is true. data must not be kept or
// changed: it may be the bytes of the string given to Send.
//
// Methods get the connection so that a protocol may keep per-connection
// state (Connection.SetContext) and may answer on its own with raw sends.
// Input, Decode and Encode are called from the connection's callback lane
// (Input and Decode) or from the goroutine calling Send (Encode); a protocol
// that keeps state touched by both must guard it.
type Protocol interface {
	Input(c Connection, buf []byte) (int, error)
	Decode(c Connection, pkg []byte) ([]byte, error)
	Encode(c Connection, dst, data []byte) ([]byte, error)
}

// ProtocolNamer is implemented by protocols that have a name for logs and
// status output ("text", "frame", "http", ...).
type ProtocolNamer interface {
	Name() string
}

// ConnOpener is implemented by protocols that act when a stream connection
// is accepted (start a handshake deadline, say). OnConnOpen runs on the
// connection's lane right before the user's OnConnect.
type ConnOpener interface {
	OnConnOpen(c Connection)
}

// BufferDrainer is implemented by protocols that stream and want to know
// when a full send queue has emptied. OnConnBufferDrain runs on the lane
// right before the user's OnBufferDrain.
type BufferDrainer interface {
	OnConnBufferDrain(c Connection)
}

// Paced is implemented by protocols whose peers wait for an answer to what
// they send (HTTP requests): when Paced returns true, their connections
// stop reading at the send queue's high-water mark even where the Goer's
// SendHighWater turns backpressure off, so that a request is not read
// while its answer could not be queued.
type Paced interface {
	Paced() bool
}

// SendRefusalHandler is implemented by protocols for which a refused Send
// loses what the peer waits for (an HTTP response: its request would stay
// unanswered). OnSendRefused runs after Send refused a message to be
// encoded (raw false) with ErrSendBufferFull, on the goroutine that called
// Send, with no lock held; OnError has been posted already.
type SendRefusalHandler interface {
	OnSendRefused(c Connection, err error)
}

// WriteBatcher is implemented by protocols that gather work while core
// holds a connection's answers to write them together: when one read
// brings several messages (pipelined requests), the answers queued while
// they are delivered are written after the last. HoldingWrites runs on the
// lane when the holding starts, before the first of those messages is
// delivered. The WriteReleaser it returns (nil: none) is told on the lane
// once they all were, right before the held answers are written, even if
// a callback switched the connection's protocol in between.
type WriteBatcher interface {
	HoldingWrites(c Connection) WriteReleaser
}

// WriteReleaser is told that the answers held for a WriteBatcher are
// about to be written.
type WriteReleaser interface {
	WritesReleased()
}

// ConnCloser is implemented by protocols that release per-connection state
// when a connection ends (temporary files, partial messages). OnConnClose runs
// once, right before the user's OnClose.
type ConnCloser interface {
	OnConnClose(c Connection)
}

// InputResumer is implemented by protocols that look for the end of a
// package (a line's "\n", say). InputFrom is Input told that the first seen
// bytes of buf were looked at by the previous call, which returned 0, so
// that a long package arriving in many small reads is scanned once instead
// of once per read (which would cost time quadratic in its length). seen is
// 0 for a new package. Core calls InputFrom instead of Input when a
// protocol has it.
type InputResumer interface {
	InputFrom(c Connection, buf []byte, seen int) (int, error)
}

// Goodbyer is implemented by protocols that have their own way to tell a peer
// that the server is going away (a WebSocket close frame, "Connection: close").
// Goodbye returns the raw bytes to send before a stopping server closes c; it
// may return nil. It runs on the connection's lane, after the callback in
// progress.
type Goodbyer interface {
	Goodbye(c Connection) []byte
}

// Drainer is implemented by protocols that have their own way to end a
// connection gracefully (an HTTP keep-alive connection, a WebSocket). When a
// graceful stop or a reload begins, core calls OnConnDrain on every open
// connection, on its lane (after the callback in progress, never during
// one) and after the Goer's OnGracefulStop. The protocol tells its peer to
// leave when it can: an HTTP connection answers the request in progress
// with "Connection: close", a WebSocket sends a close frame.
//
// OnConnDrain reports whether c is idle: between two messages, with nothing
// of the next one received. Core closes an idle connection once it has
// received nothing for DrainQuiet (at once for one that was quiet longer):
// its peer may be sending the next message right now, and that one must be
// answered rather than lost. Until then core calls OnConnDrain again, so it
// must be safe to call more than once; a connection that got busy
// meanwhile reports false and ends as the protocol arranged.
type Drainer interface {
	OnConnDrain(c Connection) (idle bool)
}

// GoerStopper is implemented by protocols whose work outlives a
// connection's callbacks (HTTP sessions saved on a goroutine after the
// response). Stop, GracefulStop and a reload's stop call OnGoerStop once
// the Goer's connections have ended (or Stop gave up on them), before the
// Goer's OnStop and while its timer still runs. Stop waits for it, so it
// must bound its own wait.
type GoerStopper interface {
	OnGoerStop(g *Goer)
}

// CloseFramer is implemented by protocols that end a connection with a
// message of their own (a WebSocket close frame). Connection.Close queues
// the bytes CloseFrame returns after its data. It is called with the
// connection's send lock held, like Encode: it must not call methods on c.
type CloseFramer interface {
	CloseFrame(c Connection) []byte
}

// ClientHandshaker is implemented by protocols whose client side opens with
// a handshake of its own (a WebSocket upgrade request). On a connection an
// AsyncConnection dialed, core calls ClientHandshake once the socket is
// connected, before reading; address is the AsyncConnection's Address (a
// URL, say). It may send the request with a raw send on c. OnConnect waits
// until Decode returns ErrEstablished for the peer's answer; the
// AsyncConnection's sends wait too (its queue, MaxSendBufferSize), and are
// encoded right after that Decode, before OnConnect. An error from ClientHandshake, an
// error from Input or Decode before ErrEstablished, or ConnectTimeout
// passing first fails the connect: OnError with ErrCodeConnectFail, then
// OnClose; so does a peer that closes the connection first. A Close before
// ErrEstablished waits for it (CloseTimeout at most), so that what was
// queued goes out; the connection then closes before OnConnect runs.
type ClientHandshaker interface {
	ClientHandshake(c Connection, address string) error
}

// ClientContexter is implemented by client protocols whose state of a
// connection must exist from Connect on, before there is a socket, so
// that what is done to the connection while it connects can be kept in it
// (a WebSocket's send type). At each connect of an AsyncConnection core
// calls NewClientContext, with the AsyncConnection's lock held (it must
// not call its methods); the value is the AsyncConnection's Context while
// it connects, and the connection it makes starts with it, before
// ClientHandshake.
type ClientContexter interface {
	NewClientContext() any
}

// ProtocolName returns p's name, "raw" for nil and the Go type for a protocol
// without a Name method.
func ProtocolName(p Protocol) string {
	if p == nil {
		return "raw"
	}
	if n, ok := p.(ProtocolNamer); ok {
		return n.Name()
	}
	return typeName(p)
}
