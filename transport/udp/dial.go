package udp

import (
	"context"
	"net"

	"github.com/shunhui19/goes/core"
)

func init() {
	core.RegisterPacketDialer(Dialer{}, "udp", "udp4", "udp6", "unixgram")
}

// Dialer makes the sockets of datagram clients (core.AsyncUdpConnection)
// for udp://, udp4://, udp6:// and unixgram://. A unixgram client on Linux
// is bound to an abstract address the kernel picks, so that its peer can
// answer; elsewhere it is unbound and can only send. Its zero value is
// ready to use.
type Dialer struct{}

// DialPacket implements core.PacketDialer. On Unix systems the socket
// sends without blocking (core.TryWriter).
func (Dialer) DialPacket(ctx context.Context, network, address string) (net.Conn, error) {
	d := net.Dialer{Control: control(network)}
	c, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return wrap(c), nil
}
