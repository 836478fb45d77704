//go:build !linux

package udp

import "syscall"

func control(string) func(network, address string, c syscall.RawConn) error { return nil }
