//go:build !(linux && (amd64 || arm64 || 386 || arm || riscv64 || ppc64 || ppc64le || s390x || loong64))

package tcp

import (
	"errors"
	"syscall"
)

func reusePort(network, address string, c syscall.RawConn) error {
	return errors.New("goes: ReusePort is not supported on this platform")
}
