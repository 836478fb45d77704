package core

// What an AsyncUdpConnection answers about itself: its state, counters,
// id, context and addresses (the Connection interface beyond sending).

import "net"

// State returns StateConnecting, StateOpen, StateClosing or StateClosed.
func (a *AsyncUdpConnection) State() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch a.state {
	case udpConnecting:
		return StateConnecting
	case udpOpen:
		return StateOpen
	case udpClosing:
		return StateClosing
	}
	return StateClosed
}

// Stats returns the connection's counters (across its Connects).
func (a *AsyncUdpConnection) Stats() *Stats { return &a.stats }

// GetID implements Connection: one id for every Connect of a.
func (a *AsyncUdpConnection) GetID() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.id == 0 {
		a.id = int(nextConnID.Add(1))
	}
	return a.id
}

// Goer implements Connection: the Server field (nil when none).
func (a *AsyncUdpConnection) Goer() *Goer { return a.Server }

// Context implements Connection: the protocol's state, cleared by every
// Connect.
func (a *AsyncUdpConnection) Context() any {
	if b := a.ctx.Load(); b != nil {
		return b.v
	}
	return nil
}

// SetContext implements Connection.
func (a *AsyncUdpConnection) SetContext(v any) { a.ctx.Store(&ctxBox{v}) }

func (a *AsyncUdpConnection) sock() net.Conn {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sess != nil {
		return a.sess.sock
	}
	return nil
}

// RemoteAddr implements Connection; nil when there is no socket.
func (a *AsyncUdpConnection) RemoteAddr() net.Addr {
	if s := a.sock(); s != nil {
		return s.RemoteAddr()
	}
	return nil
}

// LocalAddr implements Connection; nil when there is no socket.
func (a *AsyncUdpConnection) LocalAddr() net.Addr {
	if s := a.sock(); s != nil {
		return s.LocalAddr()
	}
	return nil
}

// GetRemoteAddress implements Connection.
func (a *AsyncUdpConnection) GetRemoteAddress() string { return addrString(a.RemoteAddr()) }

// GetRemoteIP implements Connection.
func (a *AsyncUdpConnection) GetRemoteIP() string { return addrIP(a.RemoteAddr()) }

// GetRemotePort implements Connection.
func (a *AsyncUdpConnection) GetRemotePort() int { return addrPort(a.RemoteAddr()) }

// GetLocalAddress implements Connection.
func (a *AsyncUdpConnection) GetLocalAddress() string { return addrString(a.LocalAddr()) }

// GetLocalIP implements Connection.
func (a *AsyncUdpConnection) GetLocalIP() string { return addrIP(a.LocalAddr()) }

// GetLocalPort implements Connection.
func (a *AsyncUdpConnection) GetLocalPort() int { return addrPort(a.LocalAddr()) }
