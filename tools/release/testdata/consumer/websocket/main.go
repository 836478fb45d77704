// Command websocket is a program outside the goes repository: a WebSocket
// server that echoes every message with its own type. It needs core,
// protocol/websocket and transport/tcp (protocol/http comes with
// protocol/websocket).
package main

import (
	"os"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/websocket"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func main() {
	g := core.NewGoer(os.Getenv("GOES_ADDR"), websocket.New(), "tcp")
	g.OnMessage = func(c core.Connection, data []byte) {
		_ = websocket.SendMessage(c, websocket.MessageTypeOf(c), data)
	}
	g.RunAll()
}
