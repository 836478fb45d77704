package core

// For transport modules: the registry of the dialers that make the sockets
// of datagram clients (AsyncUdpConnection). Users import a transport
// module and never call these.

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
)

// PacketDialer opens the sockets of client datagram connections
// (AsyncUdpConnection) for the schemes it serves. Transport modules
// register one when imported, as they register their Transport:
//
//	import _ "github.com/shunhui19/goes/transport/udp" // udp://, udp4://, udp6://, unixgram://
type PacketDialer interface {
	// DialPacket returns a datagram socket connected to address over
	// network ("udp", "udp4", "udp6", "unixgram"), bounded by ctx. Each
	// Write sends one datagram and each Read returns one. A socket that
	// can send without blocking implements TryWriter, reporting (0, nil)
	// when the kernel's buffer is full; others are written by a goroutine.
	DialPacket(ctx context.Context, network, address string) (net.Conn, error)
}

// LocalPacketDialer is a PacketDialer that can bind the socket's local end
// before it connects (AsyncUdpConnection.BindTo).
type LocalPacketDialer interface {
	PacketDialer
	// DialPacketFrom is DialPacket from the local address laddr: an IP
	// address, ip:port or :port for udp (see LocalAddrPort), a path for
	// unixgram. Empty laddr means the kernel's choice, as DialPacket.
	DialPacketFrom(ctx context.Context, network, laddr, address string) (net.Conn, error)
}

// dialPacket makes the socket of a datagram client with d, from laddr
// when it is set.
func dialPacket(ctx context.Context, d PacketDialer, scheme, addr, laddr string) (net.Conn, error) {
	if laddr == "" {
		return d.DialPacket(ctx, scheme, addr)
	}
	if ld, ok := d.(LocalPacketDialer); ok {
		return ld.DialPacketFrom(ctx, scheme, laddr, addr)
	}
	return nil, fmt.Errorf("goes: %s:// cannot bind the local address %q: its dialer does not support it", scheme, laddr)
}

// ReadWaiter is implemented by datagram sockets that can wait for a
// datagram without reading it: an idle client then holds no read buffer.
// WaitReadable returns once a datagram is there, or with the error the
// socket holds (an ICMP refusal, a closed socket).
type ReadWaiter interface {
	WaitReadable() error
}

var (
	packetDialersMu sync.RWMutex
	packetDialers   = map[string]PacketDialer{}
)

// RegisterPacketDialer makes d dial the given datagram schemes. A
// transport module calls it from init.
func RegisterPacketDialer(d PacketDialer, schemes ...string) {
	packetDialersMu.Lock()
	defer packetDialersMu.Unlock()
	for _, s := range schemes {
		packetDialers[strings.ToLower(s)] = d
	}
}

// datagramScheme reports whether scheme names a datagram transport, which
// AsyncUdpConnection dials and AsyncConnection does not.
func datagramScheme(scheme string) bool {
	switch scheme {
	case "udp", "udp4", "udp6", "unixgram":
		return true
	}
	return false
}

func lookupPacketDialer(scheme string) (PacketDialer, error) {
	packetDialersMu.RLock()
	d, ok := packetDialers[scheme]
	packetDialersMu.RUnlock()
	switch {
	case ok:
		return d, nil
	case datagramScheme(scheme):
		return nil, fmt.Errorf("%w %q: no dialer linked in; add: import _ \"github.com/shunhui19/goes/transport/udp\"", ErrUnknownTransport, scheme)
	case transportModules[scheme] != "":
		return nil, fmt.Errorf("%w %q: a stream scheme; dial it with NewAsyncConnection", ErrUnknownTransport, scheme)
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownTransport, scheme)
}

// splitPacketScheme is splitScheme for datagram addresses: without a
// scheme an address is udp.
func splitPacketScheme(address string) (scheme, addr string) {
	if !strings.Contains(address, "://") {
		return "udp", address
	}
	return splitScheme(address)
}
