package http_test

import (
	"fmt"
	"io"
	"log/slog"
	nethttp "net/http"
	"strings"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
	_ "github.com/shunhui19/goes/transport/tcp"
)

// The manual's HTTP server: every request is answered "hello, goer".
func ExampleNewHttpProtocol() {
	g := core.NewGoer("127.0.0.1:0", http.NewHttpProtocol(), "tcp")
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g.OnMessage = func(c core.Connection, data []byte) {
		c.Send("hello, goer", false)
	}
	if err := g.Start(); err != nil { // g.RunAll() in a program
		panic(err)
	}
	defer g.Stop()

	resp, err := nethttp.Get("http://" + g.Addr().String() + "/")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, resp.Header.Get("Content-Type"), string(body))
	nethttp.DefaultClient.CloseIdleConnections()
	// Output: 200 OK text/html; charset=utf-8 hello, goer
}

// A handler reading the parsed request and answering with the builder.
func ExampleRequestOf() {
	g := core.NewGoer("127.0.0.1:0", http.New(), "tcp")
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g.OnMessage = func(c core.Connection, body []byte) {
		req := http.RequestOf(c)
		req.Response().
			Status(201).
			ContentType("text/plain").
			SetCookie(http.Cookie{Name: "seen", Value: "1", Path: "/", HttpOnly: true}).
			SendString(req.Method() + " " + req.Path() + " name=" + req.Query("name"))
	}
	if err := g.Start(); err != nil {
		panic(err)
	}
	defer g.Stop()

	resp, err := nethttp.Get("http://" + g.Addr().String() + "/greet?name=goer")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, string(body), resp.Header.Get("Set-Cookie"))
	nethttp.DefaultClient.CloseIdleConnections()
	// Output: 201 GET /greet name=goer seen=1; Path=/; HttpOnly
}

// A large streamed body that never grows the send queue past its limit:
// write until the queue is full, go on when it has drained.
func ExampleStream_OnDrain() {
	g := core.NewGoer("127.0.0.1:0", http.New(), "tcp")
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g.MaxSendBufferSize = 64 << 10
	line := []byte(strings.Repeat("x", 1023) + "\n")
	g.OnMessage = func(c core.Connection, _ []byte) {
		s, err := http.ResponseOf(c).ContentType("text/plain").Stream()
		if err != nil {
			return
		}
		left := 10000 // lines; OnDrain and OnMessage both run on the connection's lane
		pump := func() {
			for ; left > 0; left-- {
				if _, err := s.Write(line); err != nil {
					return // queue full (core.ErrSendBufferFull): OnDrain calls again
				}
			}
			s.End()
		}
		s.OnDrain(pump)
		pump()
	}
	if err := g.Start(); err != nil {
		panic(err)
	}
	defer g.Stop()

	resp, err := nethttp.Get("http://" + g.Addr().String() + "/big")
	if err != nil {
		panic(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	fmt.Println(resp.TransferEncoding, n)
	nethttp.DefaultClient.CloseIdleConnections()
	// Output: [chunked] 10240000
}
