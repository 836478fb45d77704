package websocket_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/websocket"
)

// TestNodeClient runs node's ws package (testdata/node/client.mjs) against
// the server: text, binary, empty and 16 MiB messages, fragmentation, ping,
// close codes both ways, with and without permessage-deflate. It needs node
// and `npm ci` in testdata/node.
func TestNodeClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed; skipping the node ws client test")
	}
	dir, _ := filepath.Abs(filepath.Join("testdata", "node"))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "ws")); err != nil {
		t.Skipf("node's ws package missing: run `npm ci` in %s; skipping", dir)
	}
	for _, deflate := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "deflate"}[deflate], func(t *testing.T) {
			p := websocket.New()
			p.Compression = deflate
			addr := serve(t, p, func(g *core.Goer) {
				g.MaxPackageSize = 32 << 20
				g.MaxSendBufferSize = 32 << 20
				g.OnMessage = func(c core.Connection, data []byte) {
					if string(data) == "close me" {
						websocket.CloseWith(c, 4002, "as you wish")
						return
					}
					echo(c, data)
				}
			})
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "client.mjs", "ws://"+addr+"/node")
			cmd.Dir = dir
			if deflate {
				cmd.Env = append(os.Environ(), "DEFLATE=1")
			}
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "ok") {
				t.Fatalf("node client: %v\n%s", err, out)
			}
		})
	}
}
