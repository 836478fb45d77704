package http

import (
	"errors"
	"fmt"

	"github.com/shunhui19/goes/core"
)

// Sentinel errors. Compare with errors.Is: they are often wrapped.
var (
	// ErrNoRequest: a response was sent on a connection that has no request
	// waiting for one (a second response to the same request, say).
	ErrNoRequest = errors.New("goes: http: no request awaits a response")
	// ErrBadHeader: a response header name or value is malformed (CR or LF
	// in a value would split the response). The send that reports it sends
	// nothing and clears the builder, so another response may follow.
	ErrBadHeader = errors.New("goes: http: malformed response header")
	// ErrNotMultipart: the request body is not multipart/form-data.
	ErrNotMultipart = errors.New("goes: http: request is not multipart/form-data")
	// ErrNoFile: the multipart form has no file under that name.
	ErrNoFile = errors.New("goes: http: no such file in the form")
	// ErrStreamEnded: Write after End on a Stream.
	ErrStreamEnded = errors.New("goes: http: stream ended")
	// ErrNoSendFrom: the connection cannot stream a file from a reader.
	ErrNoSendFrom = errors.New("goes: http: connection cannot send from a reader")
	// ErrSessionStore: a session store failed to load, save or sweep.
	ErrSessionStore = errors.New("goes: http: session store")
	// ErrSessionTooLarge: a session save would pass Sessions.MaxSize.
	ErrSessionTooLarge = errors.New("goes: http: session too large")
	// ErrBadSessionFile: a FileStore file does not decode.
	ErrBadSessionFile = errors.New("goes: http: malformed session file")
)

// errLast is what Encode returns with the last response of a connection:
// core queues it, then closes after flushing.
var errLast = fmt.Errorf("goes: http: last response on the connection: %w", core.ErrCloseAfter)

// protoErr is the error returned from Input/Decode for a rejected request.
func protoErr(status int, reason string) error {
	return &core.ProtocolError{Protocol: "http", Status: status, Reason: reason}
}
