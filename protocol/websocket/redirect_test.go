package websocket_test

import (
	"bufio"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/websocket"
)

// redirector answers every upgrade with status and a Location made from
// the request's path.
func redirector(t *testing.T, status int, location func(path string) string) string {
	return rawServer(t, func(c net.Conn, br *bufio.Reader, req *http.Request) {
		c.Write([]byte("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) +
			"\r\nLocation: " + location(req.URL.Path) + "\r\nContent-Length: 0\r\n\r\n"))
	})
}

// A redirect is reported, not followed: OnError (ErrCodeConnectFail) with
// the status and the Location resolved against the URL dialed, and
// RedirectOf says the same from OnClose.
func TestAsyncClientRedirectReported(t *testing.T) {
	addr := redirector(t, http.StatusFound, func(string) string { return "/elsewhere?x=1" })
	c, ev := dialer("ws://"+addr+"/chat", websocket.New())
	var loc atomic.Value
	onClose := c.OnClose
	c.OnClose = func(cc core.Connection) {
		l, status := websocket.RedirectOf(cc)
		loc.Store(l + " " + strconv.Itoa(status))
		onClose(cc)
	}
	c.Connect()
	defer c.Destroy()
	want := "ws://" + addr + "/elsewhere?x=1"
	expectConnectFail(t, ev, "302 handshake response: redirected, Location "+want+": "+websocket.ErrRedirect.Error())
	if got := loc.Load(); got != want+" 302" {
		t.Fatalf("RedirectOf: %q", got)
	}
}

// Client.MaxRedirects follows redirects in a row, http and https
// Locations as ws and wss, and stops past the limit.
func TestClientFollowsRedirects(t *testing.T) {
	var served atomic.Int32
	target := serve(t, websocket.New(), func(g *core.Goer) {
		g.OnConnect = func(core.Connection) { served.Add(1) }
		g.OnMessage = echo
	})
	hop2 := redirector(t, http.StatusTemporaryRedirect, func(p string) string { return "http://" + target + p + "/final" })
	hop1 := redirector(t, http.StatusMovedPermanently, func(p string) string { return "ws://" + hop2 + p })

	t.Run("followed", func(t *testing.T) {
		cl, ev := recorder("ws://" + hop1 + "/start")
		cl.MaxRedirects = 2
		if err := cl.Start(); err != nil {
			t.Fatal(err)
		}
		defer cl.Stop()
		for _, want := range []string{"301", "307"} {
			if e := next(t, ev, "error"); e.code != core.ErrCodeConnectFail || !strings.Contains(e.data, want) {
				t.Fatalf("error %d %q, want %s", e.code, e.data, want)
			}
			next(t, ev, "close")
		}
		next(t, ev, "connect")
		c := cl.Conn()
		if c == nil || c.Address != "ws://"+target+"/start/final" {
			t.Fatalf("connected to %v", c)
		}
		c.Send("hi", false)
		if e := next(t, ev, "message"); e.data != "hi" {
			t.Fatalf("echo %q", e.data)
		}
	})
	t.Run("past MaxRedirects", func(t *testing.T) {
		before := served.Load()
		cl, ev := recorder("ws://" + hop1 + "/start")
		cl.MaxRedirects = 1
		if err := cl.Start(); err != nil {
			t.Fatal(err)
		}
		defer cl.Stop()
		next(t, ev, "close")
		if e := next(t, ev, "error"); !strings.Contains(e.data, "307") {
			t.Fatalf("error %q", e.data)
		}
		next(t, ev, "close")
		quiet(t, ev)
		if served.Load() != before {
			t.Fatal("the target was reached")
		}
	})
	t.Run("none by default", func(t *testing.T) {
		cl, ev := recorder("ws://" + hop1 + "/start")
		if err := cl.Start(); err != nil {
			t.Fatal(err)
		}
		defer cl.Stop()
		next(t, ev, "error")
		next(t, ev, "close")
		quiet(t, ev)
	})
}

// A redirect from wss to ws is never followed.
func TestClientRedirectNoDowngrade(t *testing.T) {
	cert, pool := selfSigned(t)
	var served atomic.Int32
	plain := serve(t, websocket.New(), func(g *core.Goer) { g.OnConnect = func(core.Connection) { served.Add(1) } })
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			br := bufio.NewReader(c)
			if _, err := http.ReadRequest(br); err == nil {
				c.Write([]byte("HTTP/1.1 302 Found\r\nLocation: ws://" + plain + "/\r\n\r\n"))
			}
			c.Close()
		}
	}()
	defer func() { ln.Close(); <-done }()
	cl, ev := recorder("wss://" + ln.Addr().String() + "/")
	cl.TLSConfig = &tls.Config{RootCAs: pool}
	cl.MaxRedirects = 5
	if err := cl.Start(); err != nil {
		t.Fatal(err)
	}
	defer cl.Stop()
	if e := next(t, ev, "error"); !strings.Contains(e.data, "Location ws://"+plain) {
		t.Fatalf("error %q", e.data)
	}
	next(t, ev, "close")
	quiet(t, ev)
	if served.Load() != 0 {
		t.Fatal("followed a redirect from wss to ws")
	}
}
