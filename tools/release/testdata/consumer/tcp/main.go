// Command tcp is a program outside the goes repository: a text-protocol
// server over TCP. It answers every line with "hello, " and the line.
// It needs core, protocol/text and transport/tcp, and nothing else of goes.
package main

import (
	"os"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/text"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func main() {
	g := core.NewGoer(os.Getenv("GOES_ADDR"), text.New(), "tcp")
	g.OnMessage = func(c core.Connection, line []byte) {
		_ = c.Send("hello, "+string(line), false)
	}
	g.RunAll()
}
