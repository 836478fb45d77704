//go:build linux && (amd64 || arm64 || 386 || arm || riscv64 || ppc64 || ppc64le || s390x || loong64)

package tcp

import "syscall"

// soReusePort is SO_REUSEPORT on these Linux architectures (the syscall
// package does not name it).
const soReusePort = 0xf

// reusePort sets SO_REUSEPORT so that several processes (or listeners) can
// bind the same address.
func reusePort(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
