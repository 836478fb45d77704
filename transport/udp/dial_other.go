//go:build !unix

package udp

import "net"

func wrap(c net.Conn) net.Conn { return c }
