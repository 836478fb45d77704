package core

import (
	"errors"
	"fmt"
)

// Sentinel errors. Compare with errors.Is: they are often wrapped.
var (
	// ErrClosed: the connection is closing or closed; nothing more is sent.
	ErrClosed = errors.New("goes: connection closed")
	// ErrSendBufferFull: the send queue already holds MaxSendBufferSize bytes.
	ErrSendBufferFull = errors.New("goes: send buffer full")
	// ErrPackageTooLarge: a package is longer than MaxPackageSize.
	ErrPackageTooLarge = errors.New("goes: package too large")
	// ErrSkip is returned by Protocol.Decode to consume a package without
	// delivering a message to OnMessage.
	ErrSkip = errors.New("goes: no message in package")
	// ErrTooManyConnections: MaxConnections is reached; the connection was refused.
	ErrTooManyConnections = errors.New("goes: too many connections")
	// ErrUnknownTransport: no linked transport serves the Goer's Transport.
	ErrUnknownTransport = errors.New("goes: unknown transport")
	// ErrServerStopped: the Goer was stopped.
	ErrServerStopped = errors.New("goes: server stopped")
	// ErrIdleTimeout: a connection was silent for longer than IdleTimeout.
	ErrIdleTimeout = errors.New("goes: idle timeout")
	// ErrStartPanic: OnStart panicked; the Goer was not started.
	ErrStartPanic = errors.New("goes: OnStart panicked")
	// ErrEstablished is returned by Protocol.Decode for the package that
	// completes a client's handshake (see ClientHandshaker): the package is
	// consumed and OnConnect runs.
	ErrEstablished = errors.New("goes: handshake complete")
)

// Codes given to OnError, as in workerman. The message says more.
const (
	// ErrCodeConnectFail: a connection could not be established.
	ErrCodeConnectFail = 1
	// ErrCodeSendFail: Send refused data (buffer full, connection closed).
	ErrCodeSendFail = 2
	// ErrCodePackageTooLarge: an incoming package exceeded MaxPackageSize.
	ErrCodePackageTooLarge = 3
	// ErrCodeProtocol: the peer sent bytes the protocol rejects.
	ErrCodeProtocol = 4
	// ErrCodePanic: a callback panicked; the connection is closed.
	ErrCodePanic = 5
	// ErrCodeIdleTimeout: the connection was idle too long and is closed.
	ErrCodeIdleTimeout = 6
	// ErrCodeIO: reading or writing the socket failed.
	ErrCodeIO = 7
)

// ProtocolError is what a protocol returns for bytes it rejects. Status, when
// not zero, is the protocol's own code (an HTTP status, a WebSocket close code).
type ProtocolError struct {
	Protocol string
	Status   int
	Reason   string
	Err      error
}

func (e *ProtocolError) Error() string {
	s := "goes: " + e.Protocol + ": " + e.Reason
	if e.Status != 0 {
		s = fmt.Sprintf("goes: %s: %d %s", e.Protocol, e.Status, e.Reason)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ProtocolError) Unwrap() error { return e.Err }

// ErrCloseAfter is returned by Protocol.Encode together with the encoded
// data to say that it is the connection's last message: core queues it and
// closes the connection once it is written (like io.EOF returned with data).
var ErrCloseAfter = errors.New("goes: close after this message")
