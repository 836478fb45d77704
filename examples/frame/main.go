// Command frame is an echo server for the frame protocol: every frame a
// client sends comes back to it. ./frame/client talks to it.
//
//	go run ./frame start         # in the foreground; start -d for a daemon
//	go run ./frame/client
//	go run ./frame stop
//
// GOES_ADDR overrides the address (default 127.0.0.1:8081); the command line
// is left to RunAll.
package main

import (
	"log"
	"os"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/text"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func main() {
	addr := os.Getenv("GOES_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8081"
	}
	newGoer(addr).RunAll()
}

// newGoer builds the echo server; main runs it, the test starts it.
func newGoer(addr string) *core.Goer {
	g := core.NewGoer(addr, text.NewFrame(), "tcp")
	g.Name = "frame-echo"
	g.MaxPackageSize = 1 << 20 // no frame over 1 MiB, header included
	g.OnMessage = func(c core.Connection, payload []byte) {
		if err := c.SendBytes(payload, false); err != nil { // goes back with its header
			log.Printf("%s: echo not sent (%v); closing", c.GetRemoteAddress(), err)
			c.Close("")
		}
	}
	g.OnError = func(c core.Connection, code int, msg string) {
		log.Printf("%s: error %d: %s", c.GetRemoteAddress(), code, msg)
	}
	return g
}
