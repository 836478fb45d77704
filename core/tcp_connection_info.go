package core

// What a TCPConnection answers about itself: its state, queues, counters,
// id, context and addresses (the Connection interface beyond sending and
// closing), and the address helpers both connection kinds share.

import (
	"net"
	"strconv"
	"time"
)

// State returns StateOpen, StateClosing or StateClosed.
func (c *TCPConnection) State() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.connState() {
	case connOpen:
		return StateOpen
	case connClosing:
		return StateClosing
	}
	return StateClosed
}

// SendQueueSize returns the bytes accepted by Send and not yet written.
func (c *TCPConnection) SendQueueSize() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pendingLocked()
}

// Unwritten returns the bytes held in memory and not yet written, the
// chunk read ahead from a SendFrom reader included (which SendQueueSize
// leaves out), and whether nothing at all, SendFrom readers included, is
// left to write. With BytesWritten it tells whether the peer takes what
// is queued for it. Safe for concurrent use.
func (c *TCPConnection) Unwritten() (bytes int, flushed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	bytes = len(c.out)
	if x := c.extra.Load(); x != nil {
		bytes += x.inflight
		for _, p := range x.streams {
			bytes += len(p.after)
		}
	}
	return bytes, c.idleLocked()
}

// RecvQueueSize returns the bytes received and not yet decoded. It is exact
// on the connection's own callbacks and approximate elsewhere.
func (c *TCPConnection) RecvQueueSize() int { return int(c.recvLen.Load()) }

// BytesRead returns the bytes read from the peer.
func (c *TCPConnection) BytesRead() int64 { return c.bytesRead.Load() }

// BytesWritten returns the bytes written to the peer.
func (c *TCPConnection) BytesWritten() int64 { return c.bytesWritten.Load() }

// Created returns when the connection was accepted.
func (c *TCPConnection) Created() time.Time { return time.Unix(0, c.created) }

// LastActive returns when bytes last arrived, or the idle clock
// (Goer.IdleTimeout) started again: when a pause began or ended, or when
// bytes were written while reading was paused for the send queue.
func (c *TCPConnection) LastActive() time.Time { return time.Unix(0, c.lastActive.Load()) }

// GetID implements Connection.
func (c *TCPConnection) GetID() int { return c.ID }

// Goer implements Connection.
func (c *TCPConnection) Goer() *Goer { return c.goer }

// Context implements Connection.
func (c *TCPConnection) Context() any {
	if b := c.ctx.Load(); b != nil {
		return b.v
	}
	return nil
}

// SetContext implements Connection.
func (c *TCPConnection) SetContext(v any) { c.ctx.Store(&ctxBox{v}) }

// RemoteAddr implements Connection.
func (c *TCPConnection) RemoteAddr() net.Addr { return c.sock.RemoteAddr() }

// LocalAddr implements Connection.
func (c *TCPConnection) LocalAddr() net.Addr { return c.sock.LocalAddr() }

// GetRemoteAddress implements Connection: "192.168.1.1:12345".
func (c *TCPConnection) GetRemoteAddress() string { return addrString(c.sock.RemoteAddr()) }

// GetRemoteIP implements Connection: "192.168.1.1".
func (c *TCPConnection) GetRemoteIP() string { return addrIP(c.sock.RemoteAddr()) }

// GetRemotePort implements Connection: 12345.
func (c *TCPConnection) GetRemotePort() int { return addrPort(c.sock.RemoteAddr()) }

// GetLocalAddress implements Connection: "127.0.0.1:8080".
func (c *TCPConnection) GetLocalAddress() string { return addrString(c.sock.LocalAddr()) }

// GetLocalIP implements Connection: "127.0.0.1".
func (c *TCPConnection) GetLocalIP() string { return addrIP(c.sock.LocalAddr()) }

// GetLocalPort implements Connection: 8080.
func (c *TCPConnection) GetLocalPort() int { return addrPort(c.sock.LocalAddr()) }

func addrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

func addrIP(a net.Addr) string {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.String()
	case *net.UDPAddr:
		return a.IP.String()
	case nil:
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String() // a Unix socket path
	}
	return host
}

func addrPort(a net.Addr) int {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.Port
	case *net.UDPAddr:
		return a.Port
	case nil:
		return 0
	}
	_, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return 0
	}
	p, _ := strconv.Atoi(port)
	return p
}
