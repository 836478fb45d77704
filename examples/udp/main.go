// Command udp is an echo server on 127.0.0.1:9292 for UDP and, on the same
// port number, TCP: two Goers in one process that start, reload and stop
// together. Every datagram comes back to its sender; every TCP read comes
// back too.
//
//	go run ./examples/udp start
//	nc -u 127.0.0.1 9292      # UDP
//	nc 127.0.0.1 9292         # TCP
//
// GOES_ADDR overrides the address.
package main

import (
	"os"

	"github.com/shunhui19/goes/core"
	_ "github.com/shunhui19/goes/transport/tcp"
	_ "github.com/shunhui19/goes/transport/udp"
)

func main() {
	addr := os.Getenv("GOES_ADDR")
	if addr == "" {
		addr = "127.0.0.1:9292"
	}
	udp := core.NewGoer(addr, nil, "udp")
	udp.Name = "udp-echo"
	udp.OnMessage = echo

	tcp := core.NewGoer(addr, nil, "tcp")
	tcp.Name = "tcp-echo"
	tcp.OnMessage = echo

	core.RunAll(udp, tcp)
}

// echo sends every message back to where it came from.
func echo(connection core.Connection, data []byte) {
	if err := connection.SendBytes(data, false); err != nil {
		connection.Goer().Log().Warn("echo not sent", "remote", connection.GetRemoteAddress(), "err", err)
		connection.Close("") // a stream connection ends; for a datagram peer there is nothing to close
	}
}
