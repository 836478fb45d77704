package core

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
)

// Dialer opens client connections (AsyncConnection) for the transports it
// serves. Transport modules register one per scheme when imported, as they
// register their Transport:
//
//	import _ "github.com/shunhui19/goes/transport/tcp" // tcp://, tcp4://, tcp6://, unix://, ssl://
type Dialer interface {
	// Dial connects to address over network ("tcp", "unix", "ssl", ...),
	// bounded by ctx, and returns the connected socket. tlsConf is set
	// for ssl (and tls).
	Dial(ctx context.Context, network, address string, tlsConf *tls.Config) (Socket, error)
	// Serve runs the engine's reading of s, whose socket Dial returned:
	// Open, then Received for every read, then Closed once. It may return
	// at once when the engine reads elsewhere (event loops).
	Serve(s *Stream)
}

// EngineDialer is a Dialer that can serve a connection on more than one
// engine. AsyncConnection asks it with the engine its Server uses (else
// the GOES_ENGINE environment variable; empty means the transport's
// default), so that a program's client connections are served like its
// accepted ones.
type EngineDialer interface {
	Dialer
	// DialEngine is Dial on the named engine.
	DialEngine(ctx context.Context, engine, network, address string, tlsConf *tls.Config) (Socket, error)
}

// LocalDialer is a Dialer that can bind the local end of a connection
// before it connects (AsyncConnection.BindTo).
type LocalDialer interface {
	Dialer
	// DialFrom is DialEngine from the local address laddr: an IP
	// address, ip:port or :port for the IP networks (see LocalAddrPort),
	// a path for unix. Empty laddr means any, as DialEngine.
	DialFrom(ctx context.Context, engine, network, laddr, address string, tlsConf *tls.Config) (Socket, error)
}

// LocalAddrPort parses a local address to bind for an IP network: "ip",
// "ip:port", "[ipv6]:port" or ":port". The address is invalid (the
// zero netip.Addr) when only a port is given: any address of the
// peer's family then. Port 0 lets the kernel pick. Host names are not
// accepted: a local address is one of this machine's.
func LocalAddrPort(laddr string) (netip.AddrPort, error) {
	bare := laddr
	if len(bare) > 1 && bare[0] == '[' && bare[len(bare)-1] == ']' {
		bare = bare[1 : len(bare)-1]
	}
	if ip, err := netip.ParseAddr(bare); err == nil {
		return netip.AddrPortFrom(ip, 0), nil
	}
	host, port, err := net.SplitHostPort(laddr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("goes: local address %q: not an IP address, ip:port or :port", laddr)
	}
	p, err := net.LookupPort("tcp", port)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("goes: local address %q: bad port", laddr)
	}
	var ip netip.Addr
	if host != "" {
		if ip, err = netip.ParseAddr(host); err != nil {
			return netip.AddrPort{}, fmt.Errorf("goes: local address %q: not an IP address", laddr)
		}
	}
	return netip.AddrPortFrom(ip, uint16(p)), nil
}

// dialStream makes the socket of a client connection with d, on engine
// and from laddr when they are set.
func dialStream(ctx context.Context, d Dialer, engine, scheme, addr, laddr string, conf *tls.Config) (Socket, error) {
	if laddr != "" {
		if ld, ok := d.(LocalDialer); ok {
			return ld.DialFrom(ctx, engine, scheme, laddr, addr, conf)
		}
		return nil, fmt.Errorf("goes: %s:// cannot bind the local address %q: its dialer does not support it", scheme, laddr)
	}
	if ed, ok := d.(EngineDialer); ok {
		return ed.DialEngine(ctx, engine, scheme, addr, conf)
	}
	return d.Dial(ctx, scheme, addr, conf)
}

var (
	dialersMu sync.RWMutex
	dialers   = map[string]Dialer{}
)

// RegisterDialer makes d dial the given schemes. A transport module calls
// it from init.
func RegisterDialer(d Dialer, schemes ...string) {
	dialersMu.Lock()
	defer dialersMu.Unlock()
	for _, s := range schemes {
		dialers[strings.ToLower(s)] = d
	}
}

func lookupDialer(scheme string) (Dialer, error) {
	dialersMu.RLock()
	d, ok := dialers[scheme]
	dialersMu.RUnlock()
	if ok {
		return d, nil
	}
	if datagramScheme(scheme) {
		return nil, fmt.Errorf("%w %q: a datagram scheme; dial it with NewAsyncUdpConnection", ErrUnknownTransport, scheme)
	}
	if m, ok := transportModules[scheme]; ok {
		return nil, fmt.Errorf("%w %q: no dialer linked in; add: import _ \"github.com/shunhui19/goes/%s\"", ErrUnknownTransport, scheme, m)
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownTransport, scheme)
}

// splitScheme splits "tcp://127.0.0.1:80" into "tcp" and "127.0.0.1:80";
// an address without a scheme is tcp. "unix:///tmp/a.sock" gives
// "/tmp/a.sock".
func splitScheme(address string) (scheme, addr string) {
	if i := strings.Index(address, "://"); i > 0 {
		return strings.ToLower(address[:i]), address[i+3:]
	}
	return DefaultTransport, address
}

// urlSchemes maps the URL schemes protocols registered to their transport
// and default port.
var urlSchemes = map[string][2]string{}

// RegisterURLScheme makes an AsyncConnection whose Address is a URL with
// scheme (scheme://host[:port]/path?query) dial host:port over transport,
// port defaulting to defaultPort; the rest of the URL is the protocol's
// (see ClientHandshaker). A protocol module calls it from init: the
// WebSocket module maps ws to tcp (80) and wss to ssl (443).
func RegisterURLScheme(scheme, transport, defaultPort string) {
	dialersMu.Lock()
	defer dialersMu.Unlock()
	urlSchemes[strings.ToLower(scheme)] = [2]string{strings.ToLower(transport), defaultPort}
}

// resolveURL turns a registered URL scheme and what follows it into the
// transport and host:port to dial; other schemes pass unchanged.
func resolveURL(scheme, rest string) (string, string) {
	dialersMu.RLock()
	u, ok := urlSchemes[scheme]
	dialersMu.RUnlock()
	if !ok {
		return scheme, rest
	}
	host := rest
	if i := strings.IndexAny(host, "/?#"); i >= 0 {
		host = host[:i]
	}
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	if _, _, err := net.SplitHostPort(host); err != nil && u[1] != "" {
		host = net.JoinHostPort(strings.Trim(host, "[]"), u[1])
	}
	return u[0], host
}
