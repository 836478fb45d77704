package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	nethttp "net/http"
	"net/url"
	"strings"
	"testing"
	"time"

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
	check(resp, err, 200, "Received notes.txt (3000 bytes", "Note: first")

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
