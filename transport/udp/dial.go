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
func (d Dialer) DialPacket(ctx context.Context, network, address string) (net.Conn, error) {
	return d.DialPacketFrom(ctx, network, "", address)
}

// DialPacketFrom implements core.LocalPacketDialer: DialPacket from the
// local address laddr (see core.AsyncUdpConnection.BindTo).
func (Dialer) DialPacketFrom(ctx context.Context, network, laddr, address string) (net.Conn, error) {
	d := net.Dialer{Control: control(network)}
	switch {
	case laddr == "":
	case network == "unixgram":
		d.LocalAddr, d.Control = &net.UnixAddr{Name: laddr, Net: "unixgram"}, nil // bound there, not to an abstract address
	default:
		ap, err := core.LocalAddrPort(laddr)
		if err != nil {
			return nil, err
		}
		la := &net.UDPAddr{Port: int(ap.Port())}
		if ip := ap.Addr(); ip.IsValid() {
			la.IP, la.Zone = ip.AsSlice(), ip.Zone()
		}
		d.LocalAddr = la
	}
	c, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return wrap(c), nil
}
