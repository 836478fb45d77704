// Command tcp is the manual's first example: a raw TCP server on
// 127.0.0.1:8080 that answers every message with "hello, goer".
//
//	go run ./examples/tcp start
//	nc 127.0.0.1 8080
package main

import (
	"github.com/shunhui19/goes/core"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func main() {
	// The raw transport protocol (nil): every read is a message.
	goer := core.NewGoer("127.0.0.1:8080", nil, "tcp")

	goer.OnMessage = func(connection core.Connection, data []byte) {
		connection.Send("hello, goer\n", false)
	}

	goer.RunAll()
}
