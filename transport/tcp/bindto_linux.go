package tcp

import "syscall"

// ipBindAddressNoPort is Linux's IP_BIND_ADDRESS_NO_PORT (since 4.2),
// which the syscall package does not name.
const ipBindAddressNoPort = 24

// bindNoPort has a socket that is bound to an address with port 0 get its
// port at the connect, from the whole 4-tuple, rather than at the bind,
// where every port in use on that address is taken. An older kernel
// ignores it.
func bindNoPort(fd int) {
	syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
}
