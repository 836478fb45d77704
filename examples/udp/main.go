// Command udp is a UDP echo server on 127.0.0.1:9292: every datagram comes
// back to its sender.
//
//	go run ./examples/udp start
//	nc -u 127.0.0.1 9292
package main

import (
	"github.com/shunhui19/goes/core"
	_ "github.com/shunhui19/goes/transport/udp"
)

func main() {
	goer := core.NewGoer("127.0.0.1:9292", nil, "udp")
	goer.Name = "udp-echo"

	goer.OnMessage = func(connection core.Connection, data []byte) {
		connection.SendBytes(data, false)
	}

	goer.RunAll()
}
