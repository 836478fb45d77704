package websocket

import (
	"errors"
	"fmt"

	"github.com/shunhui19/goes/core"
)

// Sentinel errors. Compare with errors.Is: they are often wrapped.
var (
	// ErrNotOpen: the connection has no WebSocket session (it is not a
	// WebSocket connection, or the handshake failed).
	ErrNotOpen = errors.New("goes: websocket: connection not open")
	// ErrClosing: a close frame was sent; nothing more may follow it.
	ErrClosing = errors.New("goes: websocket: close frame already sent")
	// ErrPendingFull: too much was sent on a server's connection before
	// its handshake completed (MaxPendingSize).
	ErrPendingFull = errors.New("goes: websocket: too much data queued before the handshake")
	// ErrBadHandshake: the peer's opening handshake is not valid.
	ErrBadHandshake = errors.New("goes: websocket: bad handshake")
	// ErrProtocol: the peer broke the framing rules of RFC 6455.
	ErrProtocol = errors.New("goes: websocket: protocol error")
	// ErrInvalidUTF8: a text message or close reason is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("goes: websocket: invalid UTF-8")
	// ErrControlTooLong: a ping or close payload is longer than 125 bytes.
	ErrControlTooLong = errors.New("goes: websocket: control payload over 125 bytes")
	// ErrRedirect: the server answered a client's handshake with a
	// redirect (3xx); RedirectOf tells where to. A client follows none by
	// itself; Client follows MaxRedirects. It is an ErrBadHandshake too.
	ErrRedirect error = redirectError{}
	// ErrBadURL: a client's address is not a ws:// or wss:// URL.
	ErrBadURL = errors.New("goes: websocket: bad URL")
	// ErrClientStopped: the Client was stopped.
	ErrClientStopped = errors.New("goes: websocket: client stopped")
)

const protoName = "websocket"

// redirectError is ErrRedirect, a kind of ErrBadHandshake.
type redirectError struct{}

func (redirectError) Error() string { return "goes: websocket: handshake redirected" }
func (redirectError) Unwrap() error { return ErrBadHandshake }

// closeError is the error for a frame-level failure: code is the close code
// sent to the peer.
func closeError(code int, reason string) error {
	var err error
	switch code {
	case CloseInvalidPayload:
		err = ErrInvalidUTF8
	case CloseMessageTooBig:
		err = core.ErrPackageTooLarge
	default:
		err = ErrProtocol
	}
	return &core.ProtocolError{Protocol: protoName, Status: code, Reason: reason, Err: err}
}

// Reject returns the error an OnWebSocketConnect callback gives to refuse a
// handshake with an HTTP status (403, 401, 404, ...) and a short reason sent
// as the response body.
func Reject(status int, reason string) error {
	return &core.ProtocolError{Protocol: protoName, Status: status, Reason: reason, Err: ErrBadHandshake}
}

func handshakeError(status int, format string, args ...any) *core.ProtocolError {
	return &core.ProtocolError{Protocol: protoName, Status: status, Reason: fmt.Sprintf(format, args...), Err: ErrBadHandshake}
}
