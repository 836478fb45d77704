// Command client is a text client with automatic reconnection: it connects
// to the text example (GOES_ADDR, default 127.0.0.1:8080), sends each line
// read from stdin, and prints what comes back. When the server goes away
// it connects again, waiting longer each time (up to 5 s); lines typed
// meanwhile wait for the connection (up to the send limit).
//
//	go run ./text start &
//	go run ./client
//	hello        ← typed
//	< hello      ← the server's answer
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/text"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func main() {
	addr := os.Getenv("GOES_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	closed := make(chan struct{}, 1)
	c := newClient("tcp://"+addr, os.Stdout, closed)
	c.Connect()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if err := c.Send(in.Text(), false); err != nil {
			fmt.Fprintln(os.Stderr, "not sent:", err)
		}
	}
	select {
	case <-closed: // an earlier disconnect's: wait for this close's own
	default:
	}
	c.Close("") // what was typed last goes out first
	select {
	case <-closed:
	case <-time.After(5 * time.Second): // not connected: nothing to wait for
	}
}

// newClient builds the client; main connects it, the test too.
// closed hears of every OnClose.
func newClient(address string, out io.Writer, closed chan<- struct{}) *core.AsyncConnection {
	c := core.NewAsyncConnection(address, text.New())
	c.AutoReconnect = &core.Backoff{Initial: 100 * time.Millisecond, Max: 5 * time.Second}
	c.OnConnect = func(c core.Connection) { fmt.Fprintln(out, "connected to", c.GetRemoteAddress()) }
	c.OnMessage = func(_ core.Connection, line []byte) { fmt.Fprintf(out, "< %s\n", line) }
	c.OnError = func(_ core.Connection, _ int, msg string) { fmt.Fprintln(out, "error:", msg) }
	c.OnClose = func(core.Connection) {
		fmt.Fprintln(out, "disconnected")
		select {
		case closed <- struct{}{}:
		default:
		}
	}
	return c
}
