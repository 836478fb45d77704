// Command text is an echo server for the text protocol: every line a client
// sends comes back to it.
//
//	go run ./text start          # in the foreground; start -d for a daemon
//	nc 127.0.0.1 8080            # or: telnet 127.0.0.1 8080
//	go run ./text stop
//
// GOES_ADDR overrides the address (default 127.0.0.1:8080); the command line
// is left to RunAll.
package main

import (
	"os"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/text"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func main() {
	addr := os.Getenv("GOES_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	newGoer(addr).RunAll()
}

// newGoer builds the echo server; main runs it, the test starts it.
func newGoer(addr string) *core.Goer {
	g := core.NewGoer(addr, text.New(), "tcp")
	g.Name = "text-echo"
	g.OnMessage = func(c core.Connection, line []byte) {
		if err := c.SendBytes(line, false); err != nil { // goes back with "\n"
			g.Log().Warn("echo not sent; closing", "remote", c.GetRemoteAddress(), "err", err)
			c.Close("")
		}
	}
	return g
}
