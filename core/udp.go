package core

import (
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"sync/atomic"
)

// PacketConn is what a datagram transport hands core: the socket replies
// are written to. net.PacketConn satisfies it.
type PacketConn interface {
	WriteTo(b []byte, addr net.Addr) (int, error)
	LocalAddr() net.Addr
}

// UDPConnection is the peer that sent a datagram. Each datagram is one
// message (the protocol, if any, frames within it); Send answers the peer
// with one datagram. A UDPConnection lives while datagrams from its peer are
// being handled; its Context does not outlast that. Methods are safe for
// concurrent use.
type UDPConnection struct {
	// UserData is the user's own value; it lives as long as the UDPConnection.
	UserData any

	id     int
	goer   *Goer
	pc     PacketConn
	remote net.Addr
	ctx    atomic.Pointer[ctxBox]
}

// udpPeer is the lane of one remote address: its datagrams are handled in
// order, one at a time, on a goroutine that lives while some are queued.
type udpPeer struct {
	conn    *UDPConnection
	queue   [][]byte
	running bool
}

// Limits on datagrams waiting for a busy handler; beyond them datagrams are
// dropped (and counted), as the network itself would.
const (
	udpPeerQueue  = 1024
	udpTotalQueue = 65536
)

// Packet hands one datagram from addr to the Goer. data is copied. It never
// blocks on a handler: datagrams of one peer are handled in order on a
// goroutine of their own.
func (g *Goer) Packet(pc PacketConn, addr net.Addr, data []byte) {
	g.stats.BytesRead.Add(int64(len(data)))
	if len(data) > g.MaxPackageSize {
		g.dropPacket(addr, fmt.Sprintf("%v: %d bytes, limit %d", ErrPackageTooLarge, len(data), g.MaxPackageSize))
		return
	}
	key := addr.String()
	g.udpMu.Lock()
	if g.udpPeers == nil {
		g.udpPeers = make(map[string]*udpPeer)
	}
	p := g.udpPeers[key]
	if p == nil {
		p = &udpPeer{conn: &UDPConnection{id: int(nextConnID.Add(1)), goer: g, pc: pc, remote: addr}}
		g.udpPeers[key] = p
	}
	if len(p.queue) >= udpPeerQueue || g.udpQueued >= udpTotalQueue {
		g.udpMu.Unlock()
		g.dropPacket(addr, "handler queue full")
		return
	}
	p.queue = append(p.queue, append([]byte(nil), data...))
	g.udpQueued++
	start := !p.running
	p.running = true
	if start {
		g.conns.Add(1)
	}
	g.udpMu.Unlock()
	if start {
		go g.drainPeer(key, p)
	}
}

func (g *Goer) drainPeer(key string, p *udpPeer) {
	defer g.conns.Done()
	for {
		g.udpMu.Lock()
		if len(p.queue) == 0 {
			p.running = false
			delete(g.udpPeers, key)
			g.udpMu.Unlock()
			return
		}
		d := p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		g.udpQueued--
		g.udpMu.Unlock()
		p.conn.handle(d)
	}
}

func (g *Goer) dropPacket(addr net.Addr, why string) {
	g.stats.Dropped.Add(1)
	g.warnLimited("datagram dropped", "goer", g.name(), "from", addrString(addr), "why", why)
}

// handle frames one datagram and delivers its messages.
func (c *UDPConnection) handle(d []byte) {
	g := c.goer
	defer func() {
		if r := recover(); r != nil {
			g.stats.Panics.Add(1)
			g.logger().Error("callback panicked", "goer", g.name(), "callback", "OnMessage", "from", c.GetRemoteAddress(),
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			c.report(ErrCodePanic, fmt.Sprintf("OnMessage panicked: %v", r))
		}
	}()
	if err := frameDatagram(g.Protocol, c, d, func(msg []byte) bool { c.deliver(msg); return true }); err != nil {
		g.dropPacket(c.remote, err.Error())
		c.report(ErrCodeProtocol, err.Error())
	}
}

// frameDatagram splits one datagram into its packages with p (nil: the
// datagram is the message) and hands each decoded message to deliver,
// which reports whether to go on. A datagram holds whole packages: one
// that ends inside a package is an error, as is a package the protocol
// rejects; the messages before it have been delivered.
func frameDatagram(p Protocol, c Connection, d []byte, deliver func(msg []byte) bool) error {
	if p == nil {
		deliver(d)
		return nil
	}
	for len(d) > 0 {
		n, err := p.Input(c, d)
		if err == nil && (n <= 0 || n > len(d)) {
			err = fmt.Errorf("goes: datagram holds no whole package (%d bytes, package %d)", len(d), n)
		}
		if err != nil {
			return err
		}
		msg, err := p.Decode(c, d[:n])
		d = d[n:]
		if errors.Is(err, ErrSkip) {
			continue
		}
		if err != nil {
			return err
		}
		if !deliver(msg) {
			return nil
		}
	}
	return nil
}

func (c *UDPConnection) deliver(msg []byte) {
	g := c.goer
	g.stats.Requests.Add(1)
	if g.OnMessage != nil {
		g.OnMessage(c, msg)
	}
}

func (c *UDPConnection) report(code int, msg string) {
	c.goer.stats.countError(code)
	if f := c.goer.OnError; f != nil {
		defer func() {
			if recover() != nil {
				c.goer.stats.Panics.Add(1)
			}
		}()
		f(c, code, msg)
	}
}

// Send implements Connection: it answers the peer with one datagram.
func (c *UDPConnection) Send(data string, raw bool) error {
	return c.send(nil, data, raw)
}

// SendBytes implements Connection.
func (c *UDPConnection) SendBytes(data []byte, raw bool) error {
	return c.send(data, "", raw)
}

func (c *UDPConnection) send(b []byte, s string, raw bool) error {
	if b == nil {
		b = []byte(s)
	}
	if p := c.goer.Protocol; p != nil && !raw {
		out, err := p.Encode(c, nil, b)
		if err != nil && !errors.Is(err, ErrCloseAfter) {
			return fmt.Errorf("goes: encode: %w", err)
		}
		b = out
	}
	n, err := c.pc.WriteTo(b, c.remote)
	c.goer.stats.BytesWritten.Add(int64(n))
	if err != nil {
		c.goer.stats.SendFailures.Add(1)
		return fmt.Errorf("goes: send to %s: %w", addrString(c.remote), err)
	}
	c.goer.stats.Sent.Add(1)
	return nil
}

// Close implements Connection: UDP has no connection, so it only sends data
// (when not empty).
func (c *UDPConnection) Close(data string) {
	if data != "" {
		c.Send(data, false)
	}
}

// GetID implements Connection.
func (c *UDPConnection) GetID() int { return c.id }

// Goer implements Connection.
func (c *UDPConnection) Goer() *Goer { return c.goer }

// Context implements Connection.
func (c *UDPConnection) Context() any {
	if b := c.ctx.Load(); b != nil {
		return b.v
	}
	return nil
}

// SetContext implements Connection.
func (c *UDPConnection) SetContext(v any) { c.ctx.Store(&ctxBox{v}) }

// RemoteAddr implements Connection.
func (c *UDPConnection) RemoteAddr() net.Addr { return c.remote }

// LocalAddr implements Connection.
func (c *UDPConnection) LocalAddr() net.Addr { return c.pc.LocalAddr() }

// GetRemoteAddress implements Connection.
func (c *UDPConnection) GetRemoteAddress() string { return addrString(c.remote) }

// GetRemoteIP implements Connection.
func (c *UDPConnection) GetRemoteIP() string { return addrIP(c.remote) }

// GetRemotePort implements Connection.
func (c *UDPConnection) GetRemotePort() int { return addrPort(c.remote) }

// GetLocalAddress implements Connection.
func (c *UDPConnection) GetLocalAddress() string { return addrString(c.LocalAddr()) }

// GetLocalIP implements Connection.
func (c *UDPConnection) GetLocalIP() string { return addrIP(c.LocalAddr()) }

// GetLocalPort implements Connection.
func (c *UDPConnection) GetLocalPort() int { return addrPort(c.LocalAddr()) }
