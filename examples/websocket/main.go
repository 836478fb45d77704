// Command websocket is the smallest WebSocket server: at any path it echoes
// every message back with its own type (text stays text, binary stays
// binary).
//
//	go run ./websocket start     # in the foreground; start -d for a daemon
//	# in a browser console:
//	#   ws = new WebSocket("ws://127.0.0.1:8080/"); ws.onmessage = e => console.log(e.data)
//	#   ws.send("hello, goer")
//	go run ./websocket stop
//
// GOES_ADDR overrides the address (default 127.0.0.1:8080); the command line
// is left to RunAll.
package main

import (
	"os"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/websocket"
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
	g := core.NewGoer(addr, websocket.New(), "tcp")
	g.Name = "websocket-echo"
	g.OnMessage = func(c core.Connection, data []byte) {
		if err := websocket.SendMessage(c, websocket.MessageTypeOf(c), data); err != nil {
			// Not queued: the connection is closing, or its send queue is
			// full although reading pauses while echoes wait (sends from
			// elsewhere filled it). End it rather than drop the message.
			g.Log().Warn("echo not sent; closing", "remote", c.GetRemoteAddress(), "err", err)
			websocket.CloseWith(c, websocket.CloseInternalError, "echo not sent")
		}
	}
	return g
}
