package tcp

import (
	"context"
	"crypto/tls"
	"net"

	"github.com/shunhui19/goes/core"
)

func init() {
	core.RegisterDialer(Dialer{}, "tcp", "tcp4", "tcp6", "unix", "ssl", "tls")
}

// Dialer opens client connections (core.AsyncConnection) for tcp://,
// tcp4://, tcp6://, unix:// and ssl:// (or tls://). Client connections
// are served by the goroutine engine, whichever engine a Goer uses. Its
// zero value is ready to use.
type Dialer struct{}

// Dial implements core.Dialer.
func (Dialer) Dial(ctx context.Context, network, address string, tlsConf *tls.Config) (core.Socket, error) {
	if network == "ssl" || network == "tls" {
		network = "tcp"
	}
	d := net.Dialer{KeepAlive: KeepAlivePeriod}
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

// Serve implements core.Dialer: the goroutine engine's read loop.
func (Dialer) Serve(s *core.Stream) {
	sock := s.Conn().Socket()
	if r, ok := sock.(interface{ Read([]byte) (int, error) }); ok {
		serveStream(s, r)
		return
	}
	s.Closed(net.ErrClosed)
}
