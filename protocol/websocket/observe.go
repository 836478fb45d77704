package websocket

import (
	"github.com/gobwas/ws"

	"github.com/shunhui19/goes/core"
)

// Observer is told of the frames a connection sends and receives and of
// the close code it ended with, for metrics (the metrics module
// implements it). Set Protocol.Observer before the Goer starts; nil, the
// default, costs nothing.
//
// Its methods run on the connection's callback lane or on the goroutine
// that sends; they must be quick and safe for concurrent use.
type Observer interface {
	// ObserveFrame: a message (kind "text" or "binary") or control frame
	// ("ping", "pong", "close") was received (sent false) or queued for
	// sending (sent true). Fragments of a message count once, as the
	// message.
	ObserveFrame(c core.Connection, sent bool, kind string)
	// ObserveClose: an open connection ended; code is what CloseStatus
	// gives (1006 when it ended without a close frame).
	ObserveClose(c core.Connection, code int)
}

// frameKind names op for the Observer.
func frameKind(op ws.OpCode) string {
	switch op {
	case ws.OpText:
		return "text"
	case ws.OpBinary:
		return "binary"
	case ws.OpPing:
		return "ping"
	case ws.OpPong:
		return "pong"
	case ws.OpClose:
		return "close"
	}
	return "other"
}

// observe tells the Observer, if any, of a frame of op.
func (st *conn) observe(c core.Connection, sent bool, op ws.OpCode) {
	if o := st.p.Observer; o != nil {
		o.ObserveFrame(c, sent, frameKind(op))
	}
}

// observeSent tells the Observer of a message of the connection's send
// type.
func (st *conn) observeSent(c core.Connection) {
	if st.p.Observer == nil {
		return
	}
	st.mu.Lock()
	op := st.sendOpcode()
	st.mu.Unlock()
	st.observe(c, true, op)
}

// observeEnd tells the Observer of how an open connection ended.
func (st *conn) observeEnd(c core.Connection) {
	o := st.p.Observer
	if o == nil {
		return
	}
	st.mu.Lock()
	code := int(st.closeCode)
	st.mu.Unlock()
	if code != 0 {
		o.ObserveClose(c, code)
	}
}
