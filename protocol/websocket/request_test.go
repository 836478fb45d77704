package websocket_test

import (
	"strings"
	"testing"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
	"github.com/shunhui19/goes/protocol/websocket"
)

// describeRequest answers a message with what RequestOf and SubprotocolOf
// show of the upgrade request.
func describeRequest(c core.Connection, _ []byte) {
	r := websocket.RequestOf(c)
	if r == nil {
		websocket.SendText(c, "no request|"+websocket.SubprotocolOf(c))
		return
	}
	websocket.SendText(c, r.URL.Path+"|"+r.URL.Query().Get("room")+"|"+r.Header.Get("X-Test")+"|"+
		r.Host+"|"+r.RemoteAddr+"|"+websocket.SubprotocolOf(c))
}

// RequestOf shows the upgrade request after the handshake only with
// KeepRequest; the subprotocol is kept either way.
func TestRequestOf(t *testing.T) {
	for _, keep := range []bool{false, true} {
		for _, upgrade := range []bool{false, true} {
			name := map[bool]string{false: "dropped", true: "kept"}[keep] + map[bool]string{false: "/websocket goer", true: "/http upgrade"}[upgrade]
			t.Run(name, func(t *testing.T) {
				p := websocket.New()
				p.KeepRequest = keep
				p.Subprotocols = []string{"chat"}
				addr := serve(t, p, func(g *core.Goer) {
					g.OnMessage = describeRequest
					if upgrade {
						g.Protocol = http.New()
						g.OnMessage = func(c core.Connection, _ []byte) {
							if p.Upgrade(c, http.RequestOf(c)) == nil {
								c.(*core.TCPConnection).OnMessage = describeRequest
							}
						}
					}
				})
				rc, resp := dialRaw(t, addr, "/chat?room=7", "X-Test: hello\r\n", "Sec-WebSocket-Protocol: chat\r\n")
				if resp.StatusCode != 101 {
					t.Fatalf("status %d", resp.StatusCode)
				}
				rc.write(frame(true, 0x1, []byte("?"), true))
				_, _, got, err := rc.read()
				if err != nil {
					t.Fatal(err)
				}
				if !keep {
					if string(got) != "no request|chat" {
						t.Fatalf("got %q", got)
					}
					return
				}
				parts := strings.Split(string(got), "|")
				local := rc.c.LocalAddr().String()
				if len(parts) != 6 || parts[0] != "/chat" || parts[1] != "7" || parts[2] != "hello" ||
					parts[3] != addr || parts[4] != local || parts[5] != "chat" {
					t.Fatalf("got %q, want /chat|7|hello|%s|%s|chat", got, addr, local)
				}
			})
		}
	}
}
