// Command wsclient is a WebSocket client with automatic reconnection: it
// connects to the websocket example (GOES_URL, default
// ws://127.0.0.1:8080/), sends each line read from stdin as a text
// message, and prints what comes back. When the server goes away it
// connects again, waiting longer each time (up to 5 s); lines typed while
// it connects wait for the server's answer to the handshake (up to the
// send limit), lines typed between two attempts are refused.
//
//	go run ./websocket start &
//	go run ./wsclient
//	hello        ← typed
//	< hello      ← the server's answer
//	/bin hello   ← sent as a binary message
//	< [binary] 68656c6c6f
//	/ping        ← a ping; the server's pong is not printed
//
// At the end of stdin (Ctrl+D) it closes with 1000 (normal closure), after
// what was typed last. A wss:// URL works too (the system's roots).
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/websocket"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func main() {
	url := os.Getenv("GOES_URL")
	if url == "" {
		url = "ws://127.0.0.1:8080/"
	}
	closed := make(chan struct{}, 1)
	c := newClient(url, os.Stdout, closed)
	c.Connect()
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if err := send(c, in.Text()); err != nil {
			fmt.Fprintln(os.Stderr, "not sent:", err)
		}
	}
	select {
	case <-closed: // an earlier disconnect's: wait for this close's own
	default:
	}
	websocket.CloseWith(c, websocket.CloseNormal, "bye") // what was typed last goes out first
	select {
	case <-closed:
	case <-time.After(10 * time.Second): // not connected: nothing to wait for
	}
}

// send sends a typed line: "/bin TEXT" as a binary message, "/ping" as a
// ping, anything else as a text message.
func send(c *core.AsyncConnection, line string) error {
	switch {
	case line == "/ping":
		return websocket.Ping(c, nil)
	case strings.HasPrefix(line, "/bin "):
		return websocket.SendBinary(c, []byte(line[len("/bin "):]))
	}
	return c.Send(line, false)
}

// newClient builds the client; main connects it, the test too. closed
// hears of every OnClose.
func newClient(url string, out io.Writer, closed chan<- struct{}) *core.AsyncConnection {
	c := core.NewAsyncConnection(url, websocket.New())
	c.AutoReconnect = &core.Backoff{Initial: 100 * time.Millisecond, Max: 5 * time.Second}
	c.OnConnect = func(c core.Connection) { fmt.Fprintln(out, "connected to", c.GetRemoteAddress()) }
	c.OnMessage = func(c core.Connection, data []byte) {
		if websocket.MessageTypeOf(c) == websocket.BinaryMessage {
			fmt.Fprintf(out, "< [binary] %x\n", data)
			return
		}
		fmt.Fprintf(out, "< %s\n", data)
	}
	c.OnError = func(_ core.Connection, _ int, msg string) { fmt.Fprintln(out, "error:", msg) }
	c.OnClose = func(c core.Connection) {
		code, reason := websocket.CloseStatus(c)
		fmt.Fprintf(out, "disconnected (%d %s)\n", code, reason)
		select {
		case closed <- struct{}{}:
		default:
		}
	}
	return c
}
