package websocket_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/websocket"
)

// An echo server that keeps each message's type, and a client
// (core.AsyncConnection with the WebSocket protocol) that talks to it.
func Example() {
	g := core.NewGoer("127.0.0.1:0", websocket.New(), "tcp")
	g.Logger = quietLogger()
	g.OnMessage = func(c core.Connection, data []byte) {
		websocket.SendMessage(c, websocket.MessageTypeOf(c), data)
	}
	if err := g.Start(); err != nil {
		fmt.Println(err)
		return
	}
	defer g.Stop()

	got := make(chan string, 1)
	c := core.NewAsyncConnection("ws://"+g.Addr().String()+"/chat", websocket.New())
	c.Logger = quietLogger()
	c.OnConnect = func(c core.Connection) { c.Send("hello, goer", false) }
	c.OnMessage = func(c core.Connection, data []byte) {
		got <- websocket.MessageTypeOf(c).String() + ": " + string(data)
	}
	c.Connect()
	defer c.Close("")
	select {
	case s := <-got:
		fmt.Println(s)
	case <-time.After(5 * time.Second):
		fmt.Println("timeout")
	}
	// Output: text: hello, goer
}

// The handshake callback checks the origin and picks the room from the
// query; plain HTTP requests on the same port get a page.
func ExampleProtocol_OnWebSocketConnect() {
	p := websocket.New()
	p.Subprotocols = []string{"chat.v1"}
	p.OnWebSocketConnect = func(c core.Connection, h *websocket.Handshake) error {
		if o := h.Origin(); o != "" && o != "https://example.com" {
			return websocket.Reject(http.StatusForbidden, "origin not allowed")
		}
		c.(*core.TCPConnection).UserData = h.Request.URL.Query().Get("room")
		return nil
	}
	p.HTTPHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "<!doctype html><title>hi</title>")
	})
	g := core.NewGoer("127.0.0.1:8080", p, "tcp")
	g.OnMessage = func(c core.Connection, data []byte) {
		room, _ := c.(*core.TCPConnection).UserData.(string)
		websocket.SendText(c, room+": "+string(data))
	}
	_ = g // g.RunAll()
}

// CloseWith ends a connection with a code and a reason; OnClose reads them.
func ExampleCloseWith() {
	g := core.NewGoer("127.0.0.1:8080", websocket.New(), "tcp")
	g.OnMessage = func(c core.Connection, data []byte) {
		if string(data) == "quit" {
			websocket.CloseWith(c, websocket.CloseNormal, "bye")
		}
	}
	g.OnClose = func(c core.Connection) {
		code, reason := websocket.CloseStatus(c)
		fmt.Println("closed with", code, reason)
	}
	_ = g // g.RunAll()
}

// A client that offers a subprotocol and compression, sends an Origin, and
// reconnects after a lost connection; OnError sees a refused handshake
// with core.ErrCodeConnectFail.
func Example_client() {
	p := websocket.New()
	p.Subprotocols = []string{"chat.v1"}
	p.Compression = true
	p.Header = http.Header{"Origin": {"https://example.com"}}
	p.PingInterval = 30 * time.Second
	c := core.NewAsyncConnection("wss://example.com/chat", p)
	c.AutoReconnect = &core.Backoff{Initial: time.Second, Max: time.Minute}
	c.OnConnect = func(c core.Connection) {
		fmt.Println("joined with", websocket.SubprotocolOf(c))
		websocket.SendText(c, "hello")
	}
	c.OnMessage = func(c core.Connection, data []byte) { fmt.Printf("%s: %s\n", websocket.MessageTypeOf(c), data) }
	c.OnError = func(c core.Connection, code int, msg string) { fmt.Println("error", code, msg) }
	c.OnClose = func(c core.Connection) {
		code, reason := websocket.CloseStatus(c)
		fmt.Println("closed with", code, reason)
	}
	_ = c // c.Connect()
}
