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
	resp, err = http.Get("http://" + addr + "/favicon.ico")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/x-icon" {
		t.Fatalf("favicon.ico: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
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

// TestChatBrowser runs testdata/e2e/chat.mjs: headless Chromium pages
// join, talk, one at phone width (375x667) switches rooms from the top bar's
// panel, and they leave. Screenshots go to $GOES_ARTIFACTS (default: the
// test's temporary directory): chat.png, chat-phone.png, chat-phone-rooms.png.
func TestChatBrowser(t *testing.T) {
	b := needBrowser(t)
	addr := startChat(t)
	b.run(t, "http://"+addr, "full", "chat", "")
}

// browser is what the browser tests need: node, Chromium and playwright-core.
type browser struct {
	node, chromium, dir string
}

// needBrowser skips the test unless node, /usr/bin/chromium (or $CHROMIUM)
// and `npm ci` in testdata/e2e are there.
func needBrowser(t *testing.T) browser {
	t.Helper()
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
	return browser{node, chromium, dir}
}

// run drives the chat at base through chat.mjs's scenario ("full" or
// "pair"); the screenshots are named after name. spki, if set, is the only
// server key whose certificate errors Chromium ignores.
func (b browser) run(t *testing.T, base, scenario, name, spki string) {
	t.Helper()
	out := os.Getenv("GOES_ARTIFACTS")
	if out == "" {
		out = t.TempDir()
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	shots := filepath.Join(out, name)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.node, "chat.mjs")
	cmd.Dir = b.dir
	cmd.Env = append(os.Environ(), "BASE_URL="+base, "SHOTS="+shots, "CHROMIUM="+b.chromium, "SPKI="+spki, "SCENARIO="+scenario)
	res, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(res), "ok") {
		t.Fatalf("browser test failed: %v\n%s", err, res)
	}
	suffixes := []string{".png", "-phone.png", "-phone-rooms.png"}
	if scenario == "pair" {
		suffixes = suffixes[:2]
	}
	for _, suffix := range suffixes {
		if st, err := os.Stat(shots + suffix); err != nil || st.Size() == 0 {
			t.Fatalf("no screenshot at %s: %v", shots+suffix, err)
		}
	}
	t.Logf("screenshots: %s*.png", shots)
}
