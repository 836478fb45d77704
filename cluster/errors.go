package cluster

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Compare with errors.Is: they are often wrapped.
var (
	// ErrBadName: a uid or group name is empty or longer than MaxNameLen.
	ErrBadName = errors.New("goes: cluster: bad uid or group name")
	// ErrBadClientID: a client id is not one that ClientID makes.
	ErrBadClientID = errors.New("goes: cluster: bad client id")
	// ErrTooLarge: a message or session is larger than the node accepts.
	ErrTooLarge = errors.New("goes: cluster: message too large")
	// ErrNotFound: no node holds the client, or no client is bound to the uid.
	ErrNotFound = errors.New("goes: cluster: no such client")
	// ErrUnavailable: the bus between nodes is down; only this node's
	// connections were reached.
	ErrUnavailable = errors.New("goes: cluster: bus unavailable")
	// ErrTimeout: a node did not answer in time.
	ErrTimeout = errors.New("goes: cluster: no answer in time")
	// ErrPartial: some nodes did not answer a query in time; the answer
	// counts the others only. A *PartialError names them.
	ErrPartial = errors.New("goes: cluster: partial answer")
	// ErrJoining: the node started less than a Heartbeat ago and the wait
	// for answers ended before that: a node it has not heard from yet may
	// be missing from the answer, which is partial.
	ErrJoining = errors.New("goes: cluster: node still learning its peers")
	// ErrClosed: the node was closed.
	ErrClosed = errors.New("goes: cluster: node closed")
	// ErrNoResponders is what a Bus returns when nobody listens on a subject.
	ErrNoResponders = errors.New("goes: cluster: no responders")
)

// PartialError is the error of a query that some nodes did not answer.
// errors.Is(err, ErrPartial) holds; Err, when set, says why (ErrUnavailable,
// a context error).
type PartialError struct {
	Missing []string // ids of known nodes that did not answer
	Err     error
}

func (e *PartialError) Error() string {
	s := fmt.Sprintf("%v: %d node(s) did not answer", ErrPartial, len(e.Missing))
	if len(e.Missing) > 0 {
		s += " (" + strings.Join(e.Missing, ", ") + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap lets errors.Is see ErrPartial and the cause.
func (e *PartialError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrPartial}
	}
	return []error{ErrPartial, e.Err}
}
