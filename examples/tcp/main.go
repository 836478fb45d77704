// Command tcp is the manual's first example: a raw TCP server on
// 127.0.0.1:8080 that answers every message with "hello, goer".
//
//	go run ./examples/tcp start
//	nc 127.0.0.1 8080
//
// GOES_ADDR overrides the address.
package main

import (
	"os"

	"github.com/shunhui19/goes/core"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func main() {
	addr := os.Getenv("GOES_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	// The raw transport protocol (nil): every read is a message.
	goer := core.NewGoer(addr, nil, "tcp")

	goer.OnMessage = func(connection core.Connection, data []byte) {
		if err := connection.Send("hello, goer\n", false); err != nil {
			// Not queued (the connection is closing, or the peer reads
			// nothing while it keeps sending): end the connection rather
			// than leave the peer waiting for an answer that never comes.
			goer.Log().Warn("answer not sent; closing", "remote", connection.GetRemoteAddress(), "err", err)
			connection.Close("")
		}
	}

	goer.RunAll()
}
