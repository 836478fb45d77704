package udp

import "syscall"

// control binds a unixgram client to an abstract address of the kernel's
// choosing (an empty address: Linux's autobind) before it connects;
// unbound, it could send but not be answered.
func control(network string) func(network, address string, c syscall.RawConn) error {
	if network != "unixgram" {
		return nil
	}
	return func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = syscall.Bind(int(fd), &syscall.SockaddrUnix{})
		}); cerr != nil {
			return cerr
		}
		return err
	}
}
