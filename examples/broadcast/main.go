// Command broadcast is a tiny line chat over nc, grown from the manual's
// connection-store example: everyone is told when a client comes online or
// leaves, and every line is passed on to all the others.
//
//	go run ./examples/broadcast start
//	nc 127.0.0.1 8080   # in two or more terminals
//
// GOES_ADDR overrides the address.
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/text"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func main() {
	addr := os.Getenv("GOES_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	goer := core.NewGoer(addr, text.New(), "tcp")
	goer.Name = "broadcast"

	// When a new client connects, tell the clients already online.
	goer.OnConnect = func(connection core.Connection) {
		send(connection, fmt.Sprintf("welcome, you are client %d; %d online", connection.GetID(), goer.Connections.Len()))
		broadcast(goer, connection, fmt.Sprintf("a new client[%v] is online", connection.GetRemoteAddress()))
	}

	goer.OnMessage = func(connection core.Connection, data []byte) {
		line := strings.TrimSpace(string(data))
		if line == "" {
			return
		}
		broadcast(goer, connection, fmt.Sprintf("[%v] %s", connection.GetRemoteAddress(), line))
	}

	goer.OnClose = func(connection core.Connection) {
		broadcast(goer, connection, fmt.Sprintf("client[%v] left", connection.GetRemoteAddress()))
	}

	goer.RunAll()
}

// broadcast sends msg to every connection but from.
func broadcast(goer *core.Goer, from core.Connection, msg string) {
	goer.Connections.Range(func(id int, other *core.TCPConnection) bool {
		if id != from.GetID() {
			send(other, msg)
		}
		return true
	})
}

// send queues msg for c. A client whose send queue is full reads too
// slowly to keep up with the others: it is told nothing more and closed,
// and the log says so, rather than miss messages unnoticed.
func send(c core.Connection, msg string) {
	if err := c.Send(msg, false); err != nil {
		c.Goer().Log().Warn("message not sent; closing the client", "remote", c.GetRemoteAddress(), "err", err)
		c.Close("")
	}
}
