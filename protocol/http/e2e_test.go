package http_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	nethttp "net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// serve runs an HTTP Goer on loopback with handler h and returns its
// address; it stops when the test ends.
func serve(t testing.TB, p *http.Protocol, h func(c core.Connection, data []byte), setup ...func(g *core.Goer)) string {
	t.Helper()
	g := core.NewGoer("127.0.0.1:0", p, "tcp")
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g.OnMessage = h
	for _, f := range setup {
		f(g)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Stop)
	return g.Addr().String()
}

func client(t testing.TB) *nethttp.Client {
	tr := &nethttp.Transport{ExpectContinueTimeout: 5 * time.Second, MaxIdleConnsPerHost: 4}
	t.Cleanup(tr.CloseIdleConnections)
	return &nethttp.Client{Transport: tr, Timeout: 10 * time.Second}
}

func hello(c core.Connection, _ []byte) { c.Send("hello, goer", false) }

func readAll(t testing.TB, resp *nethttp.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rawConn dials addr with a deadline for the whole test step.
func rawConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// smallReadConn is rawConn with a 64 KiB receive buffer, so that what the
// client does not read waits in the server's queue rather than in the
// kernel's buffers, which grow to megabytes on loopback.
func smallReadConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	c := rawConn(t, addr)
	if err := c.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitFor polls cond until it holds or d has passed, and reports whether
// it held.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			return false
		}
	}
	return true
}

// getRoot sends GET / on c and reads the response's head; the body is
// left to the caller.
func getRoot(t *testing.T, c net.Conn) (*bufio.Reader, *nethttp.Response) {
	t.Helper()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := nethttp.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return br, resp
}

func TestManualHello(t *testing.T) {
	var accepted atomic.Int64
	addr := serve(t, http.NewHttpProtocol(), hello, func(g *core.Goer) {
		g.OnConnect = func(core.Connection) { accepted.Add(1) }
	})
	cl := client(t)
	for i := 0; i < 20; i++ {
		resp, err := cl.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		if body := readAll(t, resp); body != "hello, goer" || resp.StatusCode != 200 {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		if _, err := nethttp.ParseTime(resp.Header.Get("Date")); err != nil || resp.Header.Get("Server") != "goes" {
			t.Errorf("Date %q Server %q", resp.Header.Get("Date"), resp.Header.Get("Server"))
		}
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("%d connections for 20 keep-alive requests", n)
	}
}

// echoInfo answers with the method, path, body length and a hash.
func echoInfo(c core.Connection, data []byte) {
	r := http.RequestOf(c)
	sum := sha256.Sum256(data)
	c.Send(fmt.Sprintf("%s %s %d %x", r.Method(), r.Path(), len(data), sum[:4]), false)
}

func TestBodies(t *testing.T) {
	addr := serve(t, http.New(), echoInfo)
	cl := client(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	sum := sha256.Sum256(big)
	want := fmt.Sprintf("POST /up %d %x", len(big), sum[:4])

	t.Run("content-length", func(t *testing.T) {
		resp, err := cl.Post("http://"+addr+"/up", "application/octet-stream", bytes.NewReader(big))
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != want {
			t.Fatalf("%q, want %q", got, want)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		pr, pw := io.Pipe()
		go func() {
			for off := 0; off < len(big); off += 100000 {
				pw.Write(big[off:min(off+100000, len(big))])
			}
			pw.Close()
		}()
		req, _ := nethttp.NewRequest("POST", "http://"+addr+"/up", pr)
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != want {
			t.Fatalf("%q, want %q", got, want)
		}
	})
	t.Run("100-continue", func(t *testing.T) {
		req, _ := nethttp.NewRequest("POST", "http://"+addr+"/up", bytes.NewReader(big))
		req.Header.Set("Expect", "100-continue")
		start := time.Now()
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, resp); got != want {
			t.Fatalf("%q, want %q", got, want)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("took %v: no 100 Continue", d)
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		resp, err := cl.Head("http://" + addr + "/h")
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if resp.ContentLength != int64(len("HEAD /h 0 e3b0c442")) {
			t.Fatalf("HEAD Content-Length %d", resp.ContentLength)
		}
	})
}

func TestForms(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where multipart spools big files
	addr := serve(t, &http.Protocol{MaxMemory: 64 << 10}, func(c core.Connection, _ []byte) {
		r := http.RequestOf(c)
		switch r.Path() {
		case "/form":
			c.Send("name="+r.FormValue("name")+" q="+r.FormValue("q"), false)
		case "/upload":
			fh, err := r.FormFile("file")
			if err != nil {
				http.ResponseOf(c).Status(400).SendString(err.Error())
				return
			}
			f, err := fh.Open()
			if err != nil {
				http.ResponseOf(c).Status(500).SendString(err.Error())
				return
			}
			h := sha256.New()
			io.Copy(h, f)
			f.Close()
			spooled, _ := os.ReadDir(tmp)
			c.Send(fmt.Sprintf("%s %s %d %x spooled=%d", r.FormValue("title"), fh.Filename, fh.Size, h.Sum(nil)[:4], len(spooled)), false)
		}
	})
	cl := client(t)

	resp, err := cl.PostForm("http://"+addr+"/form?q=query", url.Values{"name": {"gö er"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, resp); got != "name=gö er q=query" {
		t.Fatalf("form: %q", got)
	}

	file := bytes.Repeat([]byte("upload!"), 100000) // 700 KB > MaxMemory: spooled
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("title", "report")
	fw, _ := mw.CreateFormFile("file", "big.bin")
	fw.Write(file)
	mw.Close()
	resp, err = cl.Post("http://"+addr+"/upload", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(file)
	if got, want := readAll(t, resp), fmt.Sprintf("report big.bin %d %x spooled=1", len(file), sum[:4]); got != want {
		t.Fatalf("upload: %q, want %q", got, want)
	}
	cl.CloseIdleConnections() // the connection's end removes the temp file
	deadline := time.Now().Add(5 * time.Second)
	for {
		left, _ := os.ReadDir(tmp)
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("temp files left: %v", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestResponseBuilder(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	addr := serve(t, http.New(), func(c core.Connection, _ []byte) {
		r := http.RequestOf(c)
		w := r.Response()
		switch r.Path() {
		case "/created":
			w.Status(201).ContentType("application/json").Header("X-Id", "7").
				SetCookie(http.Cookie{Name: "sid", Value: "abc", Path: "/", Domain: "example.com", Expires: exp, MaxAge: 60, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrict}).
				SetCookie(http.Cookie{Name: "gone", MaxAge: -1})
			w.SendString(`{"ok":true}`)
		case "/redirect":
			w.Redirect("/created", 303)
		case "/close":
			w.Header("Connection", "close").SendString("bye")
		case "/nocontent":
			w.Status(204).Send(nil)
		}
	})
	cl := client(t)
	resp, err := cl.Get("http://" + addr + "/created")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	if resp.StatusCode != 201 || body != `{"ok":true}` || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("X-Id") != "7" {
		t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
	}
	sc := resp.Header.Values("Set-Cookie")
	want := []string{"sid=abc; Path=/; Domain=example.com; Expires=Wed, 02 Jan 2030 03:04:05 GMT; Max-Age=60; HttpOnly; Secure; SameSite=Strict", "gone=; Max-Age=0"}
	if fmt.Sprint(sc) != fmt.Sprint(want) {
		t.Fatalf("Set-Cookie %q\nwant %q", sc, want)
	}
	if cks := resp.Cookies(); len(cks) != 2 || cks[0].Name != "sid" || !cks[0].HttpOnly || cks[0].SameSite != nethttp.SameSiteStrictMode {
		t.Fatalf("client parsed %v", cks)
	}

	resp, err = cl.Get("http://" + addr + "/redirect")
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.Request.URL.Path != "/created" {
		t.Fatalf("redirect ended at %v", resp.Request.URL)
	}

	resp, err = cl.Get("http://" + addr + "/nocontent")
	if err != nil {
		t.Fatal(err)
	}
	if readAll(t, resp) != "" || resp.StatusCode != 204 {
		t.Fatal("204")
	}

	resp, err = cl.Get("http://" + addr + "/close")
	if err != nil {
		t.Fatal(err)
	}
	if readAll(t, resp) != "bye" || !resp.Close {
		t.Fatalf("Connection: close not honoured: close=%v", resp.Close)
	}
}

func TestConnectionClose(t *testing.T) {
	addr := serve(t, http.New(), hello)
	for _, req := range []string{
		"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
	} {
		c := rawConn(t, addr)
		io.WriteString(c, req)
		b, err := io.ReadAll(c) // ends only if the server closes
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.Contains(b, []byte("Connection: close\r\n")) || !bytes.HasSuffix(b, []byte("hello, goer")) {
			t.Fatalf("%q -> %q", req, b)
		}
	}
	// HTTP/1.0 with keep-alive stays open
	c := rawConn(t, addr)
	br := bufio.NewReader(c)
	for i := 0; i < 2; i++ {
		io.WriteString(c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		resp, err := nethttp.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if readAll(t, resp) != "hello, goer" || resp.Header.Get("Connection") != "keep-alive" {
			t.Fatalf("1.0 keep-alive: %v", resp.Header)
		}
	}
}

// TestPipelining: requests sent in one write are answered in order, even
// when an answer comes later from another goroutine.
func TestPipelining(t *testing.T) {
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	addr := serve(t, http.New(), func(c core.Connection, data []byte) {
		r := http.RequestOf(c)
		path := r.Path()
		if strings.HasPrefix(path, "/slow") {
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(50 * time.Millisecond)
				c.Send(path, false) // the request is still valid: its response is pending
			}()
			return
		}
		c.Send(path+"|"+string(data), false)
	})
	tests := []struct {
		name string
		slow func(i int) bool
	}{
		{name: "sync", slow: func(int) bool { return false }},
		{name: "first answered late", slow: func(i int) bool { return i == 0 }},
		{name: "several answered late", slow: func(i int) bool { return i%3 == 0 }},
		{name: "all answered late", slow: func(int) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rawConn(t, addr)
			var reqs strings.Builder
			want := []string{}
			for i := 0; i < 10; i++ {
				if tt.slow(i) {
					fmt.Fprintf(&reqs, "GET /slow%d HTTP/1.1\r\nHost: h\r\n\r\n", i)
					want = append(want, fmt.Sprintf("/slow%d", i))
				} else {
					fmt.Fprintf(&reqs, "POST /p%d HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\n%d", i, i%10)
					want = append(want, fmt.Sprintf("/p%d|%d", i, i%10))
				}
			}
			io.WriteString(c, reqs.String())
			br := bufio.NewReader(c)
			for i, w := range want {
				resp, err := nethttp.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				if got := readAll(t, resp); got != w {
					t.Fatalf("response %d is %q, want %q", i, got, w)
				}
			}
		})
	}
}

func TestBadInputOnTheWire(t *testing.T) {
	addr := serve(t, http.New(), hello, func(g *core.Goer) { g.MaxPackageSize = 1 << 20 })
	tests := []struct {
		name, in string
		status   int
	}{
		{"header too large", "GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("x", 70<<10) + "\r\n\r\n", 431},
		{"uri too long", "GET /" + strings.Repeat("x", 9<<10) + " HTTP/1.1\r\nHost: h\r\n\r\n", 414},
		{"body over MaxPackageSize", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n", 413},
		{"chunked over MaxPackageSize", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n", 413},
		{"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400},
		{"smuggling CL.TE", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", 400},
		{"smuggling TE obfuscated", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 501},
		{"smuggling TE space", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n", 400},
		{"bad chunk size", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", 400},
		{"unknown coding", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: br\r\n\r\n", 501},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rawConn(t, addr)
			io.WriteString(c, tt.in)
			resp, err := nethttp.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
			if resp.StatusCode != tt.status || !resp.Close {
				t.Fatalf("status %d close %v, want %d and close", resp.StatusCode, resp.Close, tt.status)
			}
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			if _, err := io.ReadAll(c); err != nil {
				t.Fatalf("connection not closed: %v", err)
			}
		})
	}
}

func TestTimeouts(t *testing.T) {
	p := &http.Protocol{HeaderTimeout: 200 * time.Millisecond, KeepAliveTimeout: 300 * time.Millisecond}
	addr := serve(t, p, hello)
	t.Run("slowloris", func(t *testing.T) {
		c := rawConn(t, addr)
		start := time.Now()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n")
		for i := 0; i < 20; i++ { // a header line every 50 ms never completes the head
			if _, err := io.WriteString(c, "X-Slow: 1\r\n"); err != nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		b, _ := io.ReadAll(c)
		if d := time.Since(start); len(b) != 0 || d > 3*time.Second {
			t.Fatalf("after %v read %q", d, b)
		}
	})
	t.Run("keep-alive idle", func(t *testing.T) {
		c := rawConn(t, addr)
		br, resp := getRoot(t, c)
		readAll(t, resp)
		start := time.Now()
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("read after idle: %v", err)
		}
		if d := time.Since(start); d < 200*time.Millisecond || d > 3*time.Second {
			t.Fatalf("closed after %v", d)
		}
	})
}

func TestFiles(t *testing.T) {
	dir := t.TempDir()
	content := bytes.Repeat([]byte("0123456789"), 300000) // 3 MB: streamed with SendFrom
	os.WriteFile(filepath.Join(dir, "data.bin"), content, 0o644)
	os.WriteFile(filepath.Join(dir, "page.html"), []byte("<h1>hi</h1>"), 0o644)
	addr := serve(t, http.New(), func(c core.Connection, _ []byte) {
		r := http.RequestOf(c)
		r.Response().SendFile(filepath.Join(dir, filepath.Base(r.Path())))
	})
	cl := client(t)
	get := func(path string, hdr ...string) (*nethttp.Response, string) {
		req, _ := nethttp.NewRequest("GET", "http://"+addr+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp, readAll(t, resp)
	}
	resp, body := get("/data.bin")
	if resp.StatusCode != 200 || body != string(content) || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("full file: %d, %d bytes", resp.StatusCode, len(body))
	}
	etag, lm := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if etag == "" || lm == "" {
		t.Fatal("no validators")
	}
	if resp, body = get("/page.html"); resp.Header.Get("Content-Type") != "text/html; charset=utf-8" || body != "<h1>hi</h1>" {
		t.Fatalf("page: %v %q", resp.Header, body)
	}
	tests := []struct {
		name   string
		hdr    []string
		status int
		body   string
	}{
		{"if-none-match", []string{"If-None-Match", etag}, 304, ""},
		{"if-none-match other", []string{"If-None-Match", `"x"`}, 200, string(content)},
		{"if-modified-since", []string{"If-Modified-Since", lm}, 304, ""},
		{"range", []string{"Range", "bytes=10-19"}, 206, "0123456789"},
		{"range open", []string{"Range", "bytes=2999995-"}, 206, "56789"},
		{"range suffix", []string{"Range", "bytes=-3"}, 206, "789"},
		{"range unsatisfiable", []string{"Range", "bytes=5000000-"}, 416, "416 Range Not Satisfiable\n"},
		{"if-range stale", []string{"Range", "bytes=0-1", "If-Range", `"old"`}, 200, string(content)},
		{"if-range current", []string{"Range", "bytes=0-1", "If-Range", etag}, 206, "01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get("/data.bin", tt.hdr...)
			if resp.StatusCode != tt.status || body != tt.body {
				t.Fatalf("%d %d bytes, want %d %d bytes", resp.StatusCode, len(body), tt.status, len(tt.body))
			}
			if tt.status == 206 && !strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes ") {
				t.Fatalf("Content-Range %q", resp.Header.Get("Content-Range"))
			}
			if tt.status == 416 && resp.Header.Get("Content-Range") != "bytes */3000000" {
				t.Fatalf("Content-Range %q", resp.Header.Get("Content-Range"))
			}
		})
	}
	if resp, _ := get("/missing.txt"); resp.StatusCode != 404 {
		t.Fatalf("missing file: %d", resp.StatusCode)
	}
}

func TestStatic(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "www")
	os.MkdirAll(filepath.Join(root, "sub"), 0o755)
	os.MkdirAll(filepath.Join(root, "empty"), 0o755)
	os.WriteFile(filepath.Join(root, "index.html"), []byte("home"), 0o644)
	os.WriteFile(filepath.Join(root, "sub", "a.txt"), []byte("a"), 0o644)
	os.WriteFile(filepath.Join(root, "sub", "index.html"), []byte("sub home"), 0o644)
	os.WriteFile(filepath.Join(base, "secret.txt"), []byte("secret"), 0o644)
	os.Symlink(filepath.Join(base, "secret.txt"), filepath.Join(root, "escape.txt"))
	os.Symlink(filepath.Join(root, "sub", "a.txt"), filepath.Join(root, "inside.txt"))
	p := http.New()
	p.ServeDir("/static/", root)
	addr := serve(t, p, func(c core.Connection, _ []byte) { c.Send("handler", false) })
	tests := []struct {
		target string
		status int
		body   string
	}{
		{"/static/", 200, "home"},
		{"/static/sub/", 200, "sub home"},
		{"/static/sub/a.txt", 200, "a"},
		{"/static/sub/%61.txt", 200, "a"},
		{"/static/inside.txt", 200, "a"},
		{"/static/empty/", 404, ""},
		{"/static/nope.txt", 404, ""},
		{"/static/../secret.txt", 403, ""},
		{"/static/sub/../../secret.txt", 403, ""},
		{"/static/%2e%2e/secret.txt", 403, ""},
		{"/static/%2E%2E%2fsecret.txt", 403, ""},
		{"/static/..%5csecret.txt", 403, ""},
		{"/static/sub\\..\\..\\secret.txt", 403, ""},
		{"/static/a.txt%00.html", 403, ""},
		{"/static/escape.txt", 403, ""},
		{"/other", 200, "handler"},
		// a directory without its slash: redirected, so that relative links work
		{"/static", 301, "/static/"},
		{"/static?q=1", 301, "/static/?q=1"},
		{"/static/sub", 301, "/static/sub/"},
		{"/static/sub?x=1&y=2", 301, "/static/sub/?x=1&y=2"},
		{"/static/empty", 404, ""},
		{"/staticx", 200, "handler"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			c := rawConn(t, addr)
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", tt.target)
			resp, err := nethttp.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if tt.status == 301 {
				if loc := resp.Header.Get("Location"); resp.StatusCode != 301 || loc != tt.body {
					t.Fatalf("%d to %q, want 301 to %q", resp.StatusCode, loc, tt.body)
				}
				return
			}
			if resp.StatusCode != tt.status || (tt.body != "" && body != tt.body) || strings.Contains(body, "secret") {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, body, tt.status, tt.body)
			}
		})
	}
}

// TestStaticRootMount: a mount at "/" redirects a directory to its slash,
// but never to a "//host" Location, which a browser would take for another
// site.
func TestStaticRootMount(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "evil.example"), 0o755)
	os.WriteFile(filepath.Join(root, "evil.example", "index.html"), []byte("inside"), 0o644)
	p := http.New()
	p.ServeDir("/", root)
	addr := serve(t, p, hello)
	tests := []struct{ target, location, body string }{
		{"/evil.example", "/evil.example/", ""},
		{"//evil.example", "", "inside"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			c := rawConn(t, addr)
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", tt.target)
			resp, err := nethttp.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if loc := resp.Header.Get("Location"); loc != tt.location || (tt.body != "" && body != tt.body) {
				t.Fatalf("%d Location %q body %q", resp.StatusCode, loc, body)
			}
		})
	}
}

func TestStreaming(t *testing.T) {
	addr := serve(t, http.New(), func(c core.Connection, _ []byte) {
		r := http.RequestOf(c)
		switch r.Path() {
		case "/chunks":
			s, err := r.Response().ContentType("text/plain").Stream()
			if err != nil {
				return
			}
			for i := 0; i < 5; i++ {
				fmt.Fprintf(s, "part %d\n", i)
			}
			s.End()
		case "/events":
			es, err := r.Response().EventStream()
			if err != nil {
				return
			}
			es.Send(http.Event{ID: "1", Event: "greet", Data: "hello\nworld"})
			es.Comment("ping")
			es.Send(http.Event{Data: "bye", Retry: time.Second})
			es.End()
		}
	})
	cl := client(t)
	resp, err := cl.Get("http://" + addr + "/chunks")
	if err != nil {
		t.Fatal(err)
	}
	if body := readAll(t, resp); body != "part 0\npart 1\npart 2\npart 3\npart 4\n" || resp.TransferEncoding[0] != "chunked" {
		t.Fatalf("%q %v", body, resp.TransferEncoding)
	}
	resp, err = cl.Get("http://" + addr + "/events")
	if err != nil {
		t.Fatal(err)
	}
	want := "id: 1\nevent: greet\ndata: hello\ndata: world\n\n: ping\n\nretry: 1000\ndata: bye\n\n"
	if body := readAll(t, resp); body != want || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" {
		t.Fatalf("%q", body)
	}
	// HTTP/1.0 gets the stream without chunks, ended by closing
	c := rawConn(t, addr)
	io.WriteString(c, "GET /chunks HTTP/1.0\r\n\r\n")
	b, _ := io.ReadAll(c)
	if !bytes.HasSuffix(b, []byte("\r\n\r\npart 0\npart 1\npart 2\npart 3\npart 4\n")) || bytes.Contains(b, []byte("chunked")) {
		t.Fatalf("1.0 stream: %q", b)
	}
}

// TestStreamBackpressure: a stream to a client that does not read fills the
// send queue, Write refuses more (memory stays bounded), and writing goes
// on after OnBufferDrain.
func TestStreamBackpressure(t *testing.T) {
	const limit = 256 << 10
	chunk := bytes.Repeat([]byte("x"), 16<<10)
	var (
		mu      sync.Mutex
		stream  *http.Stream
		written int
		refused atomic.Int64
		done    = make(chan struct{})
	)
	const total = 48 << 20
	// pump writes until the queue is full or all is written; it runs on
	// the connection's lane (OnMessage, OnBufferDrain).
	pump := func() {
		mu.Lock()
		defer mu.Unlock()
		for written < total {
			if _, err := stream.Write(chunk); err != nil {
				if !errors.Is(err, core.ErrSendBufferFull) {
					panic(err)
				}
				refused.Add(1)
				return
			}
			written += len(chunk)
		}
		if stream.End() == nil {
			close(done)
		}
	}
	addr := serve(t, http.New(), func(c core.Connection, _ []byte) {
		s, err := http.ResponseOf(c).Stream()
		if err != nil {
			panic(err)
		}
		mu.Lock()
		stream = s
		mu.Unlock()
		pump()
	}, func(g *core.Goer) {
		g.MaxSendBufferSize = limit
		g.OnBufferDrain = func(core.Connection) { pump() }
	})
	c := smallReadConn(t, addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	// Not reading: the queue fills.
	if !waitFor(10*time.Second, func() bool { return refused.Load() > 0 }) {
		t.Fatal("writes were never refused")
	}
	mu.Lock()
	queued := written
	mu.Unlock()
	if queued > limit+len(chunk)+(8<<20) { // the queue plus what the kernel's socket buffers hold
		t.Fatalf("%d bytes accepted while the client did not read", queued)
	}
	resp, err := nethttp.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != total {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("stream not ended")
	}
}

func TestGoodbyeOnStop(t *testing.T) {
	g := core.NewGoer("127.0.0.1:0", http.New(), "tcp")
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g.OnMessage = hello
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	c := rawConn(t, g.Addr().String())
	br, resp := getRoot(t, c)
	readAll(t, resp)
	// The client closes its end once it has read the EOF, as a peer does:
	// Stop would otherwise wait CloseTimeout (5 s) for it.
	stopped := make(chan struct{})
	go func() { g.Stop(); close(stopped) }()
	t.Cleanup(func() { <-stopped })
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle keep-alive connection during Stop: %v", err)
	}
	c.Close()
}

// BenchmarkHelloLoopback measures a keep-alive hello-world request over
// loopback, server and a raw client in one process (the client reads a
// fixed-size answer and allocates nothing itself).
func BenchmarkHelloLoopback(b *testing.B) {
	addr := serve(b, http.New(), hello)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := []byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	c.Write(req)
	first, err := nethttp.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, first.Body)
	var head bytes.Buffer
	first.Header.Write(&head) // same size every time: the Date has a fixed width
	size := len("HTTP/1.1 200 OK\r\n") + head.Len() + 2 + len("hello, goer")
	buf := make([]byte, size)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Write(req)
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// TestStreamDrain: the ways to go on writing after the send queue was full
// (Stream.OnDrain, WriteWait and SendWait from a goroutine, End on a full
// queue) deliver the whole body to a client that reads late, with memory
// bounded by the queue limit, and keep the connection usable.
func TestStreamDrain(t *testing.T) {
	const (
		limit = 128 << 10
		total = 24 << 20
	)
	chunk := bytes.Repeat([]byte("y"), 16<<10)
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	var (
		maxQueued   atomic.Int64 // largest send queue seen by a writer
		refusals    atomic.Int64
		endFullSize atomic.Int64
	)
	noteQueue := func(c core.Connection) {
		if q := int64(c.(*core.TCPConnection).SendQueueSize()); q > maxQueued.Load() {
			maxQueued.Store(q)
		}
	}
	addr := serve(t, http.New(), func(c core.Connection, _ []byte) {
		r := http.RequestOf(c)
		switch r.Path() {
		case "/ondrain": // writes on the lane, as far as the queue takes, again at each drain
			s, err := r.Response().ContentType("application/octet-stream").Stream()
			if err != nil {
				panic(err)
			}
			var mu sync.Mutex
			written := 0
			pump := func() {
				mu.Lock()
				defer mu.Unlock()
				for written < total {
					noteQueue(c)
					if _, err := s.Write(chunk); err != nil {
						if !errors.Is(err, core.ErrSendBufferFull) {
							panic(err)
						}
						refusals.Add(1)
						return
					}
					written += len(chunk)
				}
				s.End()
			}
			s.OnDrain(pump)
			pump()
		case "/wait": // a goroutine of its own writes with WriteWait
			s, err := r.Response().Stream()
			if err != nil {
				panic(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				for written := 0; written < total; written += len(chunk) {
					noteQueue(c)
					if _, err := s.WriteWait(ctx, chunk); err != nil {
						panic(err)
					}
				}
				s.End()
			}()
		case "/events": // SendWait from a goroutine
			es, err := r.Response().EventStream()
			if err != nil {
				panic(err)
			}
			data := strings.Repeat("z", 8<<10)
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				for i := 0; i < total/len(data); i++ {
					noteQueue(c)
					if err := es.SendWait(ctx, http.Event{Data: data}); err != nil {
						panic(err)
					}
				}
				es.End()
			}()
		case "/end-full": // writes until the queue is full, then End on the full queue
			s, err := r.Response().Stream()
			if err != nil {
				panic(err)
			}
			n := 0
			for ; n < total; n += len(chunk) {
				if _, err := s.Write(chunk); err != nil {
					if !errors.Is(err, core.ErrSendBufferFull) {
						panic(err)
					}
					break
				}
			}
			if n == total {
				panic("the queue never filled")
			}
			endFullSize.Store(int64(n))
			if err := s.End(); err != nil {
				panic(err)
			}
		default:
			c.Send("after", false)
		}
	}, func(g *core.Goer) { g.MaxSendBufferSize = limit })

	tests := []struct {
		path string
		size int64
	}{
		{"/ondrain", total},
		{"/wait", total},
		{"/events", int64(total/(8<<10)) * int64(len("data: \n\n")+8<<10)},
		{"/end-full", -1}, // endFullSize
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			maxQueued.Store(0)
			refusals.Store(0)
			c := smallReadConn(t, addr)
			c.SetDeadline(time.Now().Add(30 * time.Second))
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", tt.path)
			// Not reading: the queue fills.
			switch tt.path {
			case "/ondrain":
				waitFor(10*time.Second, func() bool { return refusals.Load() > 0 })
			case "/end-full":
				// Reading before the handler filled the queue would
				// drain it as fast as a slow (loaded) handler fills it.
				waitFor(10*time.Second, func() bool { return endFullSize.Load() > 0 })
			default:
				time.Sleep(100 * time.Millisecond)
			}
			br := bufio.NewReader(c)
			resp, err := nethttp.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			want := tt.size
			if want < 0 {
				want = endFullSize.Load()
			}
			if err != nil || n != want {
				t.Fatalf("read %d bytes (%v), want %d", n, err, want)
			}
			if q := maxQueued.Load(); q > 2*limit {
				t.Fatalf("send queue reached %d bytes, limit %d", q, limit)
			}
			if tt.path == "/ondrain" && refusals.Load() == 0 {
				t.Fatal("writes were never refused: the test did not fill the queue")
			}
			// the connection goes on with the next request
			io.WriteString(c, "GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
			resp, err = nethttp.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if body := readAll(t, resp); body != "after" {
				t.Fatalf("next response %q", body)
			}
		})
	}
}

// TestHeaderTimeoutFromAccept: a connection that sends nothing, or a byte
// now and then, is closed HeaderTimeout after the accept.
func TestHeaderTimeoutFromAccept(t *testing.T) {
	const timeout = 300 * time.Millisecond
	addr := serve(t, &http.Protocol{HeaderTimeout: timeout}, hello)
	var byByte []string
	for _, b := range "GET / HTTP/1.1\r\n" {
		byByte = append(byByte, string(b))
	}
	tests := []struct {
		name  string
		drips []string
	}{
		{"silent", nil},
		{"a byte now and then", byByte},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			c := rawConn(t, addr)
			expectHeaderTimeout(t, c, c, start, timeout, tt.drips)
		})
	}
}

// expectHeaderTimeout writes drips to c, timeout/3 apart, and expects r
// (c's reader) to end without a byte timeout after start.
func expectHeaderTimeout(t *testing.T, c net.Conn, r io.Reader, start time.Time, timeout time.Duration, drips []string) {
	t.Helper()
	go func() {
		for _, d := range drips {
			if _, err := io.WriteString(c, d); err != nil {
				return
			}
			time.Sleep(timeout / 3)
		}
	}()
	b, err := io.ReadAll(r)
	d := time.Since(start)
	if err != nil || len(b) != 0 {
		t.Fatalf("read %q, %v", b, err)
	}
	if d < timeout || d > timeout+2*time.Second {
		t.Fatalf("closed after %v, want about %v", d, timeout)
	}
}

// TestHeaderTimeoutLaterHead: on a kept-alive connection, a request head
// that does not complete (a partial head, or empty lines dripping in) is
// closed HeaderTimeout after its first byte, long before the keep-alive
// timeout.
func TestHeaderTimeoutLaterHead(t *testing.T) {
	const timeout = 300 * time.Millisecond
	addr := serve(t, &http.Protocol{HeaderTimeout: timeout, KeepAliveTimeout: 20 * time.Second}, hello)
	tests := []struct {
		name  string
		drips []string
	}{
		{"partial head", []string{"GET / HTTP/1.1\r\nHost: h\r\n"}},
		{"empty lines", []string{"\r\n", "\r\n", "\r\n", "\r\n", "\r\n", "\r\n", "\r\n", "\r\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rawConn(t, addr)
			br, resp := getRoot(t, c)
			readAll(t, resp)
			expectHeaderTimeout(t, c, br, time.Now(), timeout, tt.drips)
		})
	}
}

// loopbackClient is a keep-alive client that allocates nothing per request:
// it learns the answer's size from the first one (the Date header has a
// fixed width) and then reads exactly that many bytes.
type loopbackClient struct {
	c   net.Conn
	req []byte
	buf []byte
}

func newLoopbackClient(t testing.TB, addr, req string) *loopbackClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(time.Minute))
	lc := &loopbackClient{c: c, req: []byte(req)}
	c.Write(lc.req)
	var raw bytes.Buffer
	resp, err := nethttp.ReadResponse(bufio.NewReader(io.TeeReader(c, &raw)), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("first answer: %d close %v", resp.StatusCode, resp.Close)
	}
	lc.buf = make([]byte, raw.Len())
	return lc
}

var ok200 = []byte("HTTP/1.1 200 OK\r\n")

func (lc *loopbackClient) roundTrip() error {
	if _, err := lc.c.Write(lc.req); err != nil {
		return err
	}
	if _, err := io.ReadFull(lc.c, lc.buf); err != nil {
		return err
	}
	if !bytes.HasPrefix(lc.buf, ok200) {
		return errors.New("not a 200 answer")
	}
	return nil
}

// TestLoopbackZeroAlloc: a keep-alive request over a real transport/tcp
// connection allocates nothing in the whole process once warm: reading,
// parsing, OnMessage, encoding, writing.
func TestLoopbackZeroAlloc(t *testing.T) {
	body := []byte("hello, goer")
	addr := serve(t, http.New(), func(c core.Connection, data []byte) {
		r := http.RequestOf(c)
		switch {
		case r.Method() == "POST":
			c.SendBytes(data, false) // echo the body
		case string(r.RawPath()) == "/bytes":
			c.SendBytes(body, false)
		case string(r.RawPath()) == "/builder":
			r.Response().Status(200).Header("Content-Type", "text/plain").Header("Cache-Control", "no-store").SendString("hello, goer")
		default:
			c.Send("hello, goer", false) // the manual's hello world
		}
	})
	tests := []struct{ name, req string }{
		{"manual hello", "GET / HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"browser-like head", "GET /?a=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n" +
			"Accept: text/html,application/xhtml+xml\r\nAccept-Encoding: gzip, deflate\r\nAccept-Language: en\r\n" +
			"Cookie: a=1; b=2\r\nConnection: keep-alive\r\n\r\n"},
		{"SendBytes", "GET /bytes HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"response builder", "GET /builder HTTP/1.1\r\nHost: h\r\n\r\n"},
		{"POST echo", "POST /echo HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n\r\nthe body of the request."},
		{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lc := newLoopbackClient(t, addr, tt.req)
			for i := 0; i < 100; i++ { // warm up
				if err := lc.roundTrip(); err != nil {
					t.Fatal(err)
				}
			}
			// Whole-process counts: a stray allocation elsewhere in the
			// runtime is tolerated, one per request is not: a pooled
			// request state made anew when the loop moved to another P, and
			// some that come once
			// a second whatever the load (the Date stamp, timers, the
			// sweeper), so a slow run (-race, a loaded machine) may have a
			// few more per second it takes.
			const n = 2000
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			for i := 0; i < n; i++ {
				if err := lc.roundTrip(); err != nil {
					t.Fatal(err)
				}
			}
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			allocs := after.Mallocs - before.Mallocs
			limit := uint64(n/50) + 10*uint64(elapsed/time.Second+1)
			switch {
			case raceEnabled:
				// The race detector's sync.Pool drops some of what is put
				// back: the pooled request state is made anew now and then.
				t.Logf("%d allocations in %d requests in %v (not checked under -race)", allocs, n, elapsed)
			case allocs > limit:
				t.Fatalf("%d allocations in %d requests in %v (at most %d allowed), want 0 per request", allocs, n, elapsed, limit)
			default:
				t.Logf("%d allocations in %d requests in %v", allocs, n, elapsed)
			}
		})
	}
}

// TestProtocolSettings: the Protocol's fields on the wire.
func TestProtocolSettings(t *testing.T) {
	echoRemote := func(c core.Connection, _ []byte) {
		r := http.RequestOf(c)
		if r.Path() == "/never" {
			return // no answer: a request behind it waits ResponseTimeout
		}
		c.Send(r.RemoteAddr(), false)
	}
	p := &http.Protocol{
		MaxBodySize:     100,
		BodyTimeout:     200 * time.Millisecond,
		ResponseTimeout: 300 * time.Millisecond,
		ServerName:      "test-server",
	}
	addr := serve(t, p, echoRemote)
	noKeep := serve(t, &http.Protocol{DisableKeepAlive: true}, echoRemote)

	t.Run("ServerName and RemoteAddr", func(t *testing.T) {
		c := rawConn(t, addr)
		_, resp := getRoot(t, c)
		if body := readAll(t, resp); body != c.LocalAddr().String() || resp.Header.Get("Server") != "test-server" {
			t.Fatalf("body %q (client %s), Server %q", body, c.LocalAddr(), resp.Header.Get("Server"))
		}
	})
	t.Run("MaxBodySize", func(t *testing.T) {
		c := rawConn(t, addr)
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 101\r\n\r\n")
		resp, err := nethttp.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if resp.StatusCode != 413 || !resp.Close {
			t.Fatalf("status %d close %v", resp.StatusCode, resp.Close)
		}
	})
	t.Run("BodyTimeout", func(t *testing.T) {
		c := rawConn(t, addr)
		start := time.Now()
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
		b, err := io.ReadAll(c)
		if d := time.Since(start); err != nil || len(b) != 0 || d < 200*time.Millisecond || d > 3*time.Second {
			t.Fatalf("after %v read %q, %v", d, b, err)
		}
	})
	t.Run("ResponseTimeout", func(t *testing.T) {
		c := rawConn(t, addr)
		start := time.Now()
		io.WriteString(c, "GET /never HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
		b, err := io.ReadAll(c)
		if d := time.Since(start); err != nil || len(b) != 0 || d < 300*time.Millisecond || d > 3*time.Second {
			t.Fatalf("after %v read %q, %v", d, b, err)
		}
	})
	t.Run("DisableKeepAlive", func(t *testing.T) {
		c := rawConn(t, noKeep)
		br, resp := getRoot(t, c)
		readAll(t, resp)
		if !resp.Close {
			t.Fatal("no Connection: close")
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("connection left open: %v", err)
		}
	})
}
