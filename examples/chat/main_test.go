package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cws "github.com/coder/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func startChat(t *testing.T) string {
	t.Helper()
	ch := newChat("127.0.0.1:0")
	ch.goer.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := ch.goer.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ch.goer.Stop)
	return ch.goer.Addr().String()
}

type client struct {
	t   *testing.T
	ctx context.Context
	c   *cws.Conn
}

func dial(t *testing.T, ctx context.Context, addr string) *client {
	t.Helper()
	c, _, err := cws.Dial(ctx, "ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return &client{t, ctx, c}
}

func (cl *client) send(m message) {
	cl.t.Helper()
	b, _ := json.Marshal(m)
	if err := cl.c.Write(cl.ctx, cws.MessageText, b); err != nil {
		cl.t.Fatal(err)
	}
}

// expect reads until a message of type typ arrives and returns it.
func (cl *client) expect(typ string) message {
	cl.t.Helper()
	for {
		_, b, err := cl.c.Read(cl.ctx)
		if err != nil {
			cl.t.Fatalf("waiting for %q: %v", typ, err)
		}
		var m message
		if err := json.Unmarshal(b, &m); err != nil {
			cl.t.Fatal(err)
		}
		if m.Type == typ {
			return m
		}
	}
}

func TestChatProtocol(t *testing.T) {
	addr := startChat(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "<title>goes chat</title>") {
		t.Fatalf("page: %d %.80q", resp.StatusCode, page)
	}

	a, b := dial(t, ctx, addr), dial(t, ctx, addr)
	a.send(message{Type: "say", Text: "too early"})
	if m := a.expect("error"); !strings.Contains(m.Text, "join") {
		t.Fatalf("error %q", m.Text)
	}
	a.send(message{Type: "join", Nick: " alice\u0000 ", Room: "Go Lang!"})
	if m := a.expect("welcome"); m.Nick != "alice" || m.Room != "golang" || m.Online != 1 {
		t.Fatalf("welcome %+v", m)
	}
	b.send(message{Type: "join", Nick: "ALICE", Room: "golang"})
	if m := b.expect("error"); !strings.Contains(m.Text, "taken") {
		t.Fatalf("duplicate nick: %+v", m)
	}
	b.send(message{Type: "join", Nick: "bob", Room: "golang"})
	if m := b.expect("welcome"); m.Online != 2 || strings.Join(m.Members, ",") != "alice,bob" {
		t.Fatalf("welcome %+v", m)
	}
	if m := a.expect("join"); m.Nick != "bob" {
		t.Fatalf("join notice %+v", m)
	}
	if m := a.expect("presence"); m.Online != 2 || m.Rooms["golang"] != 2 {
		t.Fatalf("presence %+v", m)
	}
	b.send(message{Type: "say", Text: "<script>alert(1)</script>"})
	for _, cl := range []*client{a, b} {
		if m := cl.expect("say"); m.Nick != "bob" || m.Text != "<script>alert(1)</script>" {
			t.Fatalf("say %+v", m)
		}
	}
	b.c.Close(cws.StatusNormalClosure, "")
	if m := a.expect("leave"); m.Nick != "bob" {
		t.Fatalf("leave %+v", m)
	}
	if m := a.expect("presence"); m.Online != 1 {
		t.Fatalf("presence after leave %+v", m)
	}
	a.c.Close(cws.StatusNormalClosure, "")
}

// TestChatBrowser runs testdata/e2e/chat.mjs: two headless Chromium pages
// join, talk and one leaves. It needs node, /usr/bin/chromium (or CHROMIUM)
// and `npm ci` in testdata/e2e. The screenshot goes to $GOES_ARTIFACTS (default:
// the test's temporary directory).
func TestChatBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed; the browser test needs node, chromium and `npm ci` in examples/chat/testdata/e2e")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("%s not found (apt-get install chromium, or set CHROMIUM); browser test skipped", chromium)
	}
	dir, _ := filepath.Abs(filepath.Join("testdata", "e2e"))
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err != nil {
		t.Skipf("playwright-core missing: run `npm ci` in %s; browser test skipped", dir)
	}
	out := os.Getenv("GOES_ARTIFACTS")
	if out == "" {
		out = t.TempDir()
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(out, "chat.png")

	addr := startChat(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "chat.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "BASE_URL=http://"+addr, "SCREENSHOT="+shot, "CHROMIUM="+chromium)
	res, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(res), "ok") {
		t.Fatalf("browser test failed: %v\n%s", err, res)
	}
	if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
		t.Fatalf("no screenshot at %s: %v", shot, err)
	}
	t.Logf("screenshot: %s", shot)
}
