package core

// What an AsyncConnection answers about itself and lets one adjust: its
// state machine, pause, queue, state, id, context, addresses and counters
// (the Connection interface beyond connecting, sending and closing).

import "net"

// Conn returns the state machine of the open connection (nil when not
// connected), for what TCPConnection has beyond Connection.
func (a *AsyncConnection) Conn() *TCPConnection { return a.current() }

// PauseRecv stops delivering messages until ResumeRecv (see
// TCPConnection.PauseRecv); it does nothing when not connected.
func (a *AsyncConnection) PauseRecv() {
	if c := a.current(); c != nil {
		c.PauseRecv()
	}
}

// ResumeRecv undoes PauseRecv.
func (a *AsyncConnection) ResumeRecv() {
	if c := a.current(); c != nil {
		c.ResumeRecv()
	}
}

// SendQueueSize returns the bytes accepted by Send and not yet written,
// those waiting for the connect included.
func (a *AsyncConnection) SendQueueSize() int {
	a.mu.Lock()
	n := 0
	if a.cx != nil { // connecting, or its handshake unanswered
		n = a.cx.pendingN
	}
	if a.state == acOpen {
		c := a.conn
		a.mu.Unlock()
		return n + c.SendQueueSize()
	}
	a.mu.Unlock()
	return n
}

// State returns StateOpen, StateClosing or StateClosed, or StateConnecting.
func (a *AsyncConnection) State() string {
	a.mu.Lock()
	st, c, handshake := a.state, a.conn, a.cx != nil // a.cx outlives the connect while the handshake runs
	a.mu.Unlock()
	switch st {
	case acConnecting:
		return StateConnecting
	case acOpen:
		if s := c.State(); s != StateOpen || !handshake {
			return s
		}
		return StateConnecting
	}
	return StateClosed
}

// StateConnecting is an AsyncConnection's state while it connects, the
// protocol's handshake included (ClientHandshaker).
const StateConnecting = "CONNECTING"

// GetID implements Connection: one id for every connect of a.
func (a *AsyncConnection) GetID() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.init()
	return a.id
}

// Goer implements Connection: the Server field (nil when none).
func (a *AsyncConnection) Goer() *Goer { return a.Server }

// Context implements Connection: the protocol state of the open
// connection, or of the last one until the next connect (so that OnClose
// can read how it ended); while a connects, what SetContext set since the
// connect began (or its protocol's, see ClientContexter), which the
// connection starts with.
func (a *AsyncConnection) Context() any {
	a.mu.Lock()
	c := a.conn
	var v any
	if c == nil && a.state == acConnecting {
		v = a.cx.ctx
	}
	a.mu.Unlock()
	if c != nil {
		return c.Context()
	}
	return v
}

// SetContext implements Connection: it sets the open connection's, or
// while a connects the one the connection will start with; between
// connections it does nothing.
func (a *AsyncConnection) SetContext(v any) {
	a.mu.Lock()
	var c *TCPConnection
	switch a.state {
	case acConnecting:
		a.cx.ctx = v
	case acOpen:
		c = a.conn
	}
	a.mu.Unlock()
	if c != nil {
		c.SetContext(v)
	}
}

func (a *AsyncConnection) sock() Socket {
	if c := a.current(); c != nil {
		return c.sock
	}
	return nil
}

// RemoteAddr implements Connection; nil when not connected.
func (a *AsyncConnection) RemoteAddr() net.Addr {
	if s := a.sock(); s != nil {
		return s.RemoteAddr()
	}
	return nil
}

// LocalAddr implements Connection; nil when not connected.
func (a *AsyncConnection) LocalAddr() net.Addr {
	if s := a.sock(); s != nil {
		return s.LocalAddr()
	}
	return nil
}

// GetRemoteAddress implements Connection.
func (a *AsyncConnection) GetRemoteAddress() string { return addrString(a.RemoteAddr()) }

// GetRemoteIP implements Connection.
func (a *AsyncConnection) GetRemoteIP() string { return addrIP(a.RemoteAddr()) }

// GetRemotePort implements Connection.
func (a *AsyncConnection) GetRemotePort() int { return addrPort(a.RemoteAddr()) }

// GetLocalAddress implements Connection.
func (a *AsyncConnection) GetLocalAddress() string { return addrString(a.LocalAddr()) }

// GetLocalIP implements Connection.
func (a *AsyncConnection) GetLocalIP() string { return addrIP(a.LocalAddr()) }

// GetLocalPort implements Connection.
func (a *AsyncConnection) GetLocalPort() int { return addrPort(a.LocalAddr()) }

// Stats returns the counters of a's connections.
func (a *AsyncConnection) Stats() *Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.init()
	return &a.st.stats
}
