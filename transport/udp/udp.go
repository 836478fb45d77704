package udp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"

	"github.com/shunhui19/goes/core"
)

func init() {
	core.RegisterTransport(Transport{}, "udp", "udp4", "udp6", "unixgram")
}

// MaxDatagramSize is the read buffer: the largest UDP payload.
const MaxDatagramSize = 64 << 10

// Transport is the datagram transport. Its zero value is ready to use.
type Transport struct{}

// Listen implements core.Transport.
func (Transport) Listen(g *core.Goer) (core.Listener, error) {
	network := strings.ToLower(g.Transport)
	if f := g.Inherited(); f != nil { // a reload: adopt the previous process's socket
		pc, err := net.FilePacketConn(f)
		if err != nil {
			return nil, err
		}
		return &listener{g: g, pc: pc}, nil
	}
	if network == "unixgram" {
		if fi, err := os.Stat(g.Address); err == nil && fi.Mode()&os.ModeSocket != 0 {
			os.Remove(g.Address) // datagram sockets cannot be probed; a stale file blocks bind
		}
	}
	pc, err := net.ListenPacket(network, g.Address)
	if err != nil {
		return nil, err
	}
	return &listener{g: g, pc: pc}, nil
}

type listener struct {
	g      *core.Goer
	pc     net.PacketConn
	closed atomic.Bool
}

func (l *listener) Addr() net.Addr { return l.pc.LocalAddr() }

// File implements core.FileListener, for handing the socket to a new
// process in a reload.
func (l *listener) File() (*os.File, error) {
	switch pc := l.pc.(type) {
	case *net.UDPConn:
		return pc.File()
	case *net.UnixConn:
		return pc.File()
	}
	return nil, fmt.Errorf("goes: %T cannot be handed over", l.pc)
}

func (l *listener) Close() error {
	l.closed.Store(true)
	return l.pc.Close()
}

// Serve implements core.Listener: it reads datagrams until Close.
func (l *listener) Serve() error {
	buf := make([]byte, MaxDatagramSize)
	for {
		n, addr, err := l.pc.ReadFrom(buf)
		if err != nil {
			if l.closed.Load() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			// A datagram socket keeps working after most errors (an ICMP
			// port unreachable surfaces here on some systems).
			l.g.Log().Debug("udp read", "goer", l.g.GetName(), "err", err)
			continue
		}
		if addr == nil { // unixgram from an unbound socket: nobody to answer
			addr = &net.UnixAddr{Name: "", Net: "unixgram"}
		}
		l.g.Packet(l.pc, addr, buf[:n])
	}
}
