package websocket_test

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
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

// TestNodeServer runs the client against node's ws package as the server
// (testdata/node/server.mjs): the request's path and headers, text,
// binary, UTF-8 and 4 MiB messages, a fragmented message, the server's
// ping, both close handshakes (the client's started before the handshake
// was answered), messages sent before the answer, with and without
// permessage-deflate. It needs node and `npm ci` in testdata/node.
func TestNodeServer(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed; skipping the node ws server test")
	}
	dir, _ := filepath.Abs(filepath.Join("testdata", "node"))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "ws")); err != nil {
		t.Skipf("node's ws package missing: run `npm ci` in %s; skipping", dir)
	}
	for _, deflate := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "deflate"}[deflate], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "server.mjs")
			cmd.Dir = dir
			cmd.Stderr = os.Stderr
			if deflate {
				cmd.Env = append(os.Environ(), "DEFLATE=1")
			}
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := make(chan string, 10)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					lines <- sc.Text()
				}
			}()
			defer func() {
				cmd.Process.Kill()
				for range lines {
				}
				cmd.Wait()
			}()
			port := strings.TrimPrefix(recv(t, lines, "node's port"), "listening ")

			p := websocket.New()
			p.Compression = deflate
			p.Header = http.Header{"Origin": {"http://goes.test"}}
			c, ev := dialer("ws://127.0.0.1:"+port+"/node?x=1", p)
			c.MaxPackageSize = 32 << 20
			c.MaxSendBufferSize = 32 << 20
			c.Connect()
			defer c.Destroy()
			// Sent before node answered the handshake: they wait for its
			// answer, framed as it settled compression.
			early := bytes.Repeat([]byte("sent before the answer "), 3000)
			for i, err := range []error{websocket.SendText(c, "early"), websocket.SendBinary(c, early), websocket.Ping(c, []byte("early"))} {
				if err != nil {
					t.Fatalf("early send %d: %v", i, err)
				}
			}
			next(t, ev, "connect")
			for _, want := range []event{{"message", "early", websocket.TextMessage, 0}, {"message", string(early), websocket.BinaryMessage, 0}} {
				if e := next(t, ev, "message"); e != want {
					t.Fatalf("got %s %d bytes %.20q, want %s %d bytes", e.typ, len(e.data), e.data, want.typ, len(want.data))
				}
			}
			if websocket.Compressed(c) != deflate {
				t.Fatalf("Compressed = %v", websocket.Compressed(c))
			}
			big := bytes.Repeat([]byte("0123456789abcdef"), 4<<20/16)
			c.Send("hello from goes", false)
			websocket.SendBinary(c, []byte{0, 1, 2, 255})
			c.Send("héllo wörld ✓", false)
			websocket.SendBinary(c, big)
			c.Send("", false)
			for _, want := range []event{{"message", "hello from goes", websocket.TextMessage, 0}, {"message", "\x00\x01\x02\xff", websocket.BinaryMessage, 0},
				{"message", "héllo wörld ✓", websocket.TextMessage, 0}, {"message", string(big), websocket.BinaryMessage, 0}, {"message", "", websocket.TextMessage, 0}} {
				if e := next(t, ev, "message"); e != want {
					t.Fatalf("got %s %d bytes %.20q, want %s %d bytes", e.typ, len(e.data), e.data, want.typ, len(want.data))
				}
			}
			c.Send("fragments", false)
			if e := next(t, ev, "message"); len(e.data) != 5000 || e.typ != websocket.BinaryMessage || e.data[4999] != 4 {
				t.Fatalf("fragmented message: %s %d bytes", e.typ, len(e.data))
			}
			c.Send("ping", false)
			if e := next(t, ev, "message"); e.data != "pinged" {
				t.Fatalf("after the ping: %q", e.data)
			}
			c.Send("close", false)
			if e := next(t, ev, "close"); e.code != 4321 || e.data != "node says bye" {
				t.Fatalf("closed with %d %q", e.code, e.data)
			}
			if l := recv(t, lines, "node's close"); l != "closed 4321" {
				t.Fatalf("node: %q", l)
			}

			// The client closes, before node answered the handshake: the
			// close frame follows the answer.
			c.Connect()
			c.Close("")
			next(t, ev, "connect")
			if e := next(t, ev, "close"); e.code != websocket.CloseNormal {
				t.Fatalf("closed with %d", e.code)
			}
			if l := recv(t, lines, "node's close"); l != "closed 1000" {
				t.Fatalf("node: %q", l)
			}
		})
	}
}
