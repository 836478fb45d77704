package websocket_test

import (
	"context"
	"io"
	nethttp "net/http"
	"testing"
	"time"

	cws "github.com/coder/websocket"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
	"github.com/shunhui19/goes/protocol/websocket"
)

// One HTTP Goer serves a page and upgrades /ws to WebSocket.
func TestUpgradeFromHTTP(t *testing.T) {
	wsp := websocket.New()
	wsp.OnWebSocketConnect = func(c core.Connection, h *websocket.Handshake) error {
		if h.Request.URL.Query().Get("token") != "secret" {
			return websocket.Reject(nethttp.StatusUnauthorized, "bad token")
		}
		return nil
	}
	closed := make(chan int, 1)
	addr := serve(t, nil, func(g *core.Goer) {
		g.Protocol = http.New()
		g.OnMessage = func(c core.Connection, body []byte) {
			r := http.RequestOf(c)
			if r != nil && r.Path() == "/ws" {
				if err := wsp.Upgrade(c, r); err != nil {
					return
				}
				tc := c.(*core.TCPConnection)
				tc.OnMessage = echo
				tc.OnClose = func(c core.Connection) {
					code, _ := websocket.CloseStatus(c)
					closed <- code
				}
				websocket.SendText(c, "upgraded")
				return
			}
			c.Send("<h1>page</h1>", false)
		}
	})
	resp, err := nethttp.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	nethttp.DefaultClient.CloseIdleConnections()
	if string(b) != "<h1>page</h1>" {
		t.Fatalf("page %q", b)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, resp, err := cws.Dial(ctx, "ws://"+addr+"/ws?token=wrong", nil); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("bad token: %v %v", err, resp)
	}
	c, _, err := cws.Dial(ctx, "ws://"+addr+"/ws?token=secret", &cws.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if _, b, err := c.Read(ctx); err != nil || string(b) != "upgraded" {
		t.Fatalf("%q %v", b, err)
	}
	for _, typ := range []cws.MessageType{cws.MessageText, cws.MessageBinary} {
		c.Write(ctx, typ, []byte("over the http port"))
		if gt, b, err := c.Read(ctx); err != nil || gt != typ || string(b) != "over the http port" {
			t.Fatalf("%v %q %v", gt, b, err)
		}
	}
	c.Close(4000, "done")
	if code := recv(t, closed, "OnClose"); code != 4000 {
		t.Fatalf("close code %d", code)
	}
}
