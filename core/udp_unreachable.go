//go:build !plan9

package core

import (
	"errors"
	"syscall"
)

// unreachable reports whether a socket error is the kernel's news that an
// earlier datagram was not delivered; the socket works on.
func unreachable(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH)
}
