package websocket

import (
	"net/http"

	"github.com/gobwas/ws"

	"github.com/shunhui19/goes/core"
)

// stateOf returns c's WebSocket state, or nil when c is not (yet) a
// WebSocket connection.
func stateOf(c core.Connection) *conn {
	st, _ := c.Context().(*conn)
	return st
}

// clientQueues reports whether c is a client connection of this protocol
// (a core.AsyncConnection) that is connecting or waiting for the server's
// answer: its sends wait in core's queue (queueOnClient). Callers check it
// before they make queueOnClient's closure, so that a send on a server
// connection, or on an open client's, allocates nothing.
func clientQueues(c core.Connection) bool {
	a, ok := c.(*core.AsyncConnection)
	return ok && protocolOf(a) != nil && a.State() == core.StateConnecting
}

// queueOnClient hands f to a client connection (core.AsyncConnection)
// that is connecting or waiting for the server's answer: core queues it
// with Send's messages, in order, and f frames it once the handshake is
// done, compressed or not as it settled. handled is false when c is not
// such a connection, or no longer (its handshake ended since clientQueues
// said it was): f is not used, and the caller sends at once.
func queueOnClient(c core.Connection, size int, f func(st *conn, dst []byte) ([]byte, error)) (handled bool, err error) {
	a, ok := c.(*core.AsyncConnection)
	if !ok || protocolOf(a) == nil {
		return false, nil
	}
	return a.QueueEncoded(size, func(c core.Connection, dst []byte) ([]byte, error) {
		st := stateOf(c)
		if st == nil {
			return dst, ErrNotOpen
		}
		return f(st, dst)
	})
}

// sendOn sends one frame (a data message when op is text or binary) on c:
// queued on a client connection that is not open yet, else at once.
func sendOn(c core.Connection, op ws.OpCode, payload []byte) error {
	if clientQueues(c) {
		if handled, err := queueOnClient(c, len(payload), func(st *conn, dst []byte) ([]byte, error) {
			return st.appendOpenFrame(c, dst, op, payload)
		}); handled {
			return err
		}
	}
	st := stateOf(c)
	if st == nil {
		return ErrNotOpen
	}
	return st.sendFrame(c, op, payload)
}

// SetSendType sets the type of the messages Send sends on c from now on:
// TextMessage (the default) or BinaryMessage, like a per-connection
// websocketType. On a client connection that is not open yet it applies
// from the messages sent after it. Safe for concurrent use.
func SetSendType(c core.Connection, t MessageType) error {
	binary := t == BinaryMessage
	if clientQueues(c) {
		if handled, err := queueOnClient(c, 0, func(st *conn, dst []byte) ([]byte, error) {
			st.mu.Lock()
			st.sendBinary = binary
			st.mu.Unlock()
			return dst, nil
		}); handled {
			if st := stateOf(c); err == nil && st != nil {
				st.mu.Lock()
				st.nextBinary = binary // for SendTypeOf, until the queue is handed over
				st.mu.Unlock()
			}
			return err
		}
	}
	st := stateOf(c)
	if st == nil {
		if tc, ok := c.(*core.TCPConnection); ok {
			if p, ok := tc.Protocol.(*Protocol); ok {
				st = p.state(c)
			}
		}
		if st == nil {
			return ErrNotOpen
		}
	}
	st.mu.Lock()
	st.sendBinary, st.nextBinary = binary, binary
	st.mu.Unlock()
	return nil
}

// SendTypeOf returns the type of the messages Send sends on c: the latest
// SetSendType's, also while it waits in the queue of a client connection
// that is not open yet; before any, the Protocol's SendType. Safe for
// concurrent use.
func SendTypeOf(c core.Connection) MessageType {
	binary := false
	if st := stateOf(c); st != nil {
		st.mu.Lock()
		binary = st.nextBinary
		st.mu.Unlock()
	} else if p := protocolOf(c); p != nil {
		binary = p.SendType == BinaryMessage
	}
	if binary {
		return BinaryMessage
	}
	return TextMessage
}

// protocolOf returns c's Protocol when it is this package's, else nil.
func protocolOf(c core.Connection) *Protocol {
	var p core.Protocol
	switch c := c.(type) {
	case *core.AsyncConnection:
		p = c.Protocol
	case *core.TCPConnection:
		p = c.Protocol
	}
	wp, _ := p.(*Protocol)
	return wp
}

// MessageTypeOf returns the type of the message being handled: call it
// from OnMessage.
func MessageTypeOf(c core.Connection) MessageType {
	if st := stateOf(c); st != nil && st.lastBinary {
		return BinaryMessage
	}
	return TextMessage
}

// SendMessage sends data as one message of type t, whatever the
// connection's send type. On a client connection (core.AsyncConnection)
// that is connecting or waiting for the server's answer, the message is
// queued as Send queues (MaxSendBufferSize), in order with Send's, and
// framed once the handshake is done. Safe for concurrent use.
func SendMessage(c core.Connection, t MessageType, data []byte) error {
	return sendOn(c, t.opcode(), data)
}

// SendText sends s as one text message. Safe for concurrent use.
func SendText(c core.Connection, s string) error {
	return SendMessage(c, TextMessage, []byte(s))
}

// SendBinary sends b as one binary message. Safe for concurrent use.
func SendBinary(c core.Connection, b []byte) error {
	return SendMessage(c, BinaryMessage, b)
}

// Ping sends a ping with payload (at most 125 bytes); the peer answers
// with a pong. A client connection that is not open yet queues it (see
// SendMessage). Safe for concurrent use.
func Ping(c core.Connection, payload []byte) error {
	if len(payload) > maxControlPayload {
		return ErrControlTooLong
	}
	return sendOn(c, ws.OpPing, payload)
}

// CloseWith starts the close handshake: it sends a close frame with code
// (0: none) and reason (cut to 123 bytes), then closes the connection once
// everything queued is written. OnClose sees code through CloseStatus.
// On a client connection that is connecting or waiting for the server's
// answer, what was queued and then the close frame go out once the server
// accepted the handshake, which the client waits for CloseTimeout at most
// (see core.AsyncConnection.Close). Safe for concurrent use.
func CloseWith(c core.Connection, code int, reason string) error {
	if code != 0 && !validCloseCode(code) {
		return &core.ProtocolError{Protocol: protoName, Status: code, Reason: "not a close code an endpoint may send", Err: ErrProtocol}
	}
	payload := closePayload(code, reason)
	if clientQueues(c) {
		if handled, err := queueOnClient(c, len(payload), func(st *conn, dst []byte) ([]byte, error) {
			st.mu.Lock()
			if !st.closeSent && st.phase == phaseOpen {
				st.recordLocked(code, reason)
			}
			st.mu.Unlock()
			return st.appendOpenFrame(c, dst, ws.OpClose, payload)
		}); handled {
			if err == nil {
				c.Close("")
			}
			return err
		}
	}
	st := stateOf(c)
	if st == nil {
		c.Close("")
		return ErrNotOpen
	}
	err := st.sendClose(c, code, reason)
	c.Close("")
	return err
}

// CloseStatus returns the close code and reason of c's close handshake:
// the first close frame sent or received, CloseNoStatus when the peer's
// close frame had no code, CloseAbnormal when the connection ended without
// a close frame, and 0 while it is open. Call it from OnClose.
func CloseStatus(c core.Connection) (code int, reason string) {
	st := stateOf(c)
	if st == nil {
		return 0, ""
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ext != nil {
		reason = st.ext.closeReason
	}
	return int(st.closeCode), reason
}

// RequestOf returns the upgrade request of an open WebSocket connection
// (path, query, headers, cookies) when its Protocol has KeepRequest set,
// or nil. Each call parses the kept request head anew. Call it from the
// connection's callbacks.
func RequestOf(c core.Connection) *http.Request {
	if st := stateOf(c); st != nil {
		return st.request(c)
	}
	return nil
}

// SubprotocolOf returns the subprotocol chosen in the handshake.
func SubprotocolOf(c core.Connection) string {
	if st := stateOf(c); st != nil {
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.ext != nil {
			return st.ext.subp
		}
	}
	return ""
}

// IsOpen reports whether c completed the WebSocket handshake and no close
// frame was sent since. Safe for concurrent use.
func IsOpen(c core.Connection) bool {
	st := stateOf(c)
	if st == nil {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.phase == phaseOpen && !st.closeSent && !st.ended
}

// Compressed reports whether permessage-deflate was negotiated on c.
func Compressed(c core.Connection) bool {
	st := stateOf(c)
	if st == nil {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.deflate
}
