package tcp

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/shunhui19/goes/core"
)

func init() {
	core.RegisterDialer(Dialer{}, "tcp", "tcp4", "tcp6", "unix", "ssl", "tls")
}

// Dialer opens client connections (core.AsyncConnection) for tcp://,
// tcp4://, tcp6://, unix:// and ssl:// (or tls://). A client connection is
// served by the engine that its AsyncConnection's Server uses (else the
// one GOES_ENGINE names, else DefaultEngine): on the epoll engine an event
// loop connects it and then serves it like an accepted connection (see
// epoll_dial_linux.go); TLS client connections, like accepted ones, are
// served by the goroutine engine. Its zero value is ready to use.
type Dialer struct{}

// Dial implements core.Dialer: DialEngine on the engine GOES_ENGINE names,
// else DefaultEngine.
func (d Dialer) Dial(ctx context.Context, network, address string, tlsConf *tls.Config) (core.Socket, error) {
	return d.DialEngine(ctx, os.Getenv("GOES_ENGINE"), network, address, tlsConf)
}

// DialEngine implements core.EngineDialer: engine is "epoll" or
// "goroutine"; empty means DefaultEngine.
func (d Dialer) DialEngine(ctx context.Context, engine, network, address string, tlsConf *tls.Config) (core.Socket, error) {
	return d.DialFrom(ctx, engine, network, "", address, tlsConf)
}

// DialFrom implements core.LocalDialer: DialEngine from the local
// address laddr (see core.AsyncConnection.BindTo), bound before the
// connect. On Linux an address bound with port 0 gets its port at the
// connect (IP_BIND_ADDRESS_NO_PORT), so that clients bound to one
// address are not limited to one connection per ephemeral port.
func (Dialer) DialFrom(ctx context.Context, engine, network, laddr, address string, tlsConf *tls.Config) (core.Socket, error) {
	if network == "ssl" || network == "tls" {
		network = "tcp"
	}
	switch strings.ToLower(engine) {
	case "":
		engine = DefaultEngine
	case "epoll", "goroutine":
		engine = strings.ToLower(engine)
	default:
		return nil, fmt.Errorf("goes: unknown engine %q (goroutine or epoll)", engine)
	}
	local, err := localAddr(network, laddr)
	if err != nil {
		return nil, err
	}
	if engine == "epoll" && tlsConf == nil {
		return dialEpoll(ctx, network, address, local)
	}
	d := net.Dialer{KeepAlive: KeepAlivePeriod}
	if local != nil {
		d.LocalAddr = local
		d.Control = bindControl
	}
	conn, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	if tlsConf == nil {
		return wrap(conn), nil
	}
	tc := tls.Client(wrap(conn), tlsConf)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// Serve implements core.Dialer: a socket that an event loop connected goes
// back to its loop; any other is read by the goroutine engine's read loop,
// on the calling goroutine.
func (Dialer) Serve(s *core.Stream) {
	if serveOnLoop(s) {
		return
	}
	sock := s.Conn().Socket()
	if r, ok := sock.(interface{ Read([]byte) (int, error) }); ok {
		serveStream(s, r)
		return
	}
	s.Closed(net.ErrClosed)
}

// localAddr is laddr (see core.AsyncConnection.BindTo) as the net package
// binds it for network; nil when empty.
func localAddr(network, laddr string) (net.Addr, error) {
	switch {
	case laddr == "":
		return nil, nil
	case network == "unix":
		return &net.UnixAddr{Name: laddr, Net: "unix"}, nil
	}
	ap, err := core.LocalAddrPort(laddr)
	if err != nil {
		return nil, err
	}
	a := &net.TCPAddr{Port: int(ap.Port())}
	if ip := ap.Addr(); ip.IsValid() {
		a.IP, a.Zone = ip.AsSlice(), ip.Zone()
	}
	return a, nil
}

// bindControl prepares a dialing socket that is bound to a local address
// before it connects.
func bindControl(network, _ string, c syscall.RawConn) error {
	if strings.HasPrefix(network, "tcp") {
		c.Control(func(fd uintptr) { bindNoPort(int(fd)) })
	}
	return nil
}
