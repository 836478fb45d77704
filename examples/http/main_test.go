package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	nethttp "net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/examples/internal/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestSite(t *testing.T) {
	g := newGoer("127.0.0.1:0", staticDir())
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	base := "http://" + g.Addr().String()
	tr := &nethttp.Transport{}
	defer tr.CloseIdleConnections()
	cl := &nethttp.Client{Transport: tr, Timeout: 10 * time.Second}
	check := func(resp *nethttp.Response, err error, status int, want ...string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Fatalf("%s: status %d, want %d", resp.Request.URL, resp.StatusCode, status)
		}
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				t.Fatalf("%s: body lacks %q:\n%s", resp.Request.URL, w, b)
			}
		}
	}

	resp, err := cl.Get(base + "/")
	check(resp, err, 200, "hello, goer")
	resp, err = cl.Get(base + "/form")
	check(resp, err, 200, `<form method="post" action="/form">`, `enctype="multipart/form-data"`)
	resp, err = cl.PostForm(base+"/form", url.Values{"name": {"<goer>"}, "colour": {"green"}})
	check(resp, err, 200, "Hello &lt;goer&gt;, you like green.")

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "notes.txt")
	fw.Write(bytes.Repeat([]byte("x"), 3000))
	mw.WriteField("note", "first")
	mw.Close()
	resp, err = cl.Post(base+"/upload", mw.FormDataContentType(), &body)
	sum := sha256.Sum256(bytes.Repeat([]byte("x"), 3000))
	check(resp, err, 200, fmt.Sprintf("Received notes.txt (3000 bytes, application/octet-stream, sha256 %x). Note: first", sum[:8]))

	resp, err = cl.Get(base + "/static/")
	check(resp, err, 200, "Static files served by goes")
	resp, err = cl.Get(base + "/static/goer.txt")
	check(resp, err, 200, "hello from a static file")
	resp, err = cl.Get(base + "/static/style.css")
	check(resp, err, 200, "font-family")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Fatalf("style.css Content-Type %q", ct)
	}

	// no way out of the static directory
	c, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /static/%%2e%%2e/main.go HTTP/1.1\r\nHost: h\r\n\r\n")
	r, err := nethttp.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 403 {
		t.Fatalf("traversal: %d", r.StatusCode)
	}
}

// startSite runs the example's Goer on a free loopback port.
func startSite(t *testing.T) string {
	t.Helper()
	g := newGoer("127.0.0.1:0", staticDir())
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Stop)
	return "http://" + g.Addr().String()
}

// artifactDir is $GOES_ARTIFACTS (made if missing), else a temporary
// directory of the test.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GOES_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBrowser runs testdata/browser/browser.mjs: headless Chromium loads
// the hello page, sends the form, uploads a file and opens the static
// directory, checking what each page shows. It needs node, /usr/bin/chromium
// (or $CHROMIUM) and `npm ci` in testdata/browser. The screenshot after the
// upload is saved as http-example.png in $GOES_ARTIFACTS (default: the
// test's temporary directory).
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: skipping the browser test (it needs node, chromium and `npm ci` in examples/http/testdata/browser)")
	}
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("%s not found (apt-get install chromium, or set CHROMIUM): skipping the browser test", chromium)
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "browser"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "playwright-core")); err != nil {
		t.Skipf("playwright-core is missing: run `npm ci` in %s; skipping the browser test", dir)
	}
	shot := filepath.Join(artifactDir(t), "http-example.png")
	os.Remove(shot)

	base := startSite(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "browser.mjs", base, shot, chromium)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "ok") {
		t.Fatalf("browser test failed: %v\n%s", err, out)
	}
	if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
		t.Fatalf("no screenshot at %s: %v", shot, err)
	}
	t.Logf("screenshot: %s", shot)
}

// TestCommand builds the example and runs it as a user would: `start` with
// GOES_ADDR on a free port, a request, then `stop` from a second process.
func TestCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the example: skipped in -short mode")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "http-example")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	static, _ := filepath.Abs("static")
	env := append(os.Environ(), "GOES_ADDR="+addr, "GOES_HTTP_STATIC="+static)

	var out testutil.SyncBuffer
	srv := exec.Command(bin, "start")
	srv.Dir, srv.Env, srv.Stdout, srv.Stderr = dir, env, &out, &out
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = srv.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			srv.Process.Kill()
			<-exited
		}
	})

	tr := &nethttp.Transport{}
	defer tr.CloseIdleConnections()
	cl := &nethttp.Client{Transport: tr, Timeout: 5 * time.Second}
	var body string
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := cl.Get("http://" + addr + "/")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the example did not answer on %s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if body != "hello, goer" {
		t.Fatalf("GET / answered %q", body)
	}
	resp, err := cl.Get("http://" + addr + "/static/goer.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "hello from a static file") {
		t.Fatalf("static file: %q", b)
	}
	tr.CloseIdleConnections()

	stop := exec.Command(bin, "stop")
	stop.Dir, stop.Env = dir, env
	if res, err := stop.CombinedOutput(); err != nil {
		t.Fatalf("stop: %v\n%s", err, res)
	}
	select {
	case <-exited:
		if exitErr != nil {
			t.Fatalf("the example exited with %v\n%s", exitErr, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the example did not stop\n%s", out.String())
	}
}

// One connection sends 20,000 GETs in one burst, every 7th for a static
// file, and reads the answers late through a small receive buffer: every
// request is answered, in order (RFC 9112 §9.3.2), although the answers
// outgrow the send queue many times over.
func TestPipelinedBurst(t *testing.T) {
	const total = 20000
	static := staticDir()
	files := []string{"goer.txt", "index.html", "style.css"}
	var bodies []string
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(static, f))
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, string(b))
	}
	g := newGoer("127.0.0.1:0", static)
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g.MaxSendBufferSize = 64 << 10
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	c, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(64 << 10)
	c.SetDeadline(time.Now().Add(30 * time.Second))
	var reqs bytes.Buffer
	for i := range total {
		path := "/"
		if i%7 == 6 {
			path = "/static/" + files[(i/7)%len(files)]
		}
		fmt.Fprintf(&reqs, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", path)
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := c.Write(reqs.Bytes())
		wrote <- err
	}()
	time.Sleep(time.Second)
	br := bufio.NewReader(c)
	for i := range total {
		resp, err := nethttp.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer %d of %d: %v", i, total, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := "hello, goer"
		if i%7 == 6 {
			want = bodies[(i/7)%len(files)]
		}
		if err != nil || resp.StatusCode != 200 || string(b) != want {
			t.Fatalf("answer %d: %d %q %v; want %q", i, resp.StatusCode, b, err, want)
		}
	}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
}
