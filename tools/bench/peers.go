package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gobwas/ws"
	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"
	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/fasthttp"
)

// peerImpls are the servers goes is compared with, each written the way
// its documentation shows for the task, with default settings.
func peerImpls() []impl {
	return []impl{
		{Name: "gnet", Family: "gnet", Kind: kindTCP, Peer: true, start: gnetEcho},
		{Name: "nbio", Family: "nbio", Kind: kindTCP, Peer: true, start: nbioEcho},
		{Name: "net", Family: "net", Kind: kindTCP, Peer: true, start: netEcho},
		{Name: "fasthttp", Family: "fasthttp", Kind: kindHTTP, Peer: true, start: fastHTTP},
		{Name: "nbhttp", Family: "nbio", Kind: kindHTTP, Peer: true, start: nbHTTP},
		{Name: "net/http", Family: "net", Kind: kindHTTP, Peer: true, start: netHTTP},
		{Name: "nbio/ws", Family: "nbio", Kind: kindWS, Peer: true, start: nbioWS},
		{Name: "net+gobwas/ws", Family: "net", Kind: kindWS, Peer: true, start: gobwasWS},
	}
}

type gnetEchoServer struct {
	gnet.BuiltinEventEngine
	booted chan gnet.Engine
}

func (s *gnetEchoServer) OnBoot(e gnet.Engine) gnet.Action {
	s.booted <- e
	return gnet.None
}

func (s *gnetEchoServer) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	c.Write(buf)
	return gnet.None
}

func gnetEcho(addr string) (func(), error) {
	s := &gnetEchoServer{booted: make(chan gnet.Engine, 1)}
	failed := make(chan error, 1)
	go func() { failed <- gnet.Run(s, "tcp://"+addr, gnet.WithMulticore(true)) }()
	select {
	case e := <-s.booted:
		return func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			e.Stop(ctx)
		}, nil
	case err := <-failed:
		return nil, fmt.Errorf("gnet: %w", err)
	case <-time.After(10 * time.Second):
		return nil, fmt.Errorf("gnet: not started within 10s")
	}
}

func nbioEcho(addr string) (func(), error) {
	logging.SetLevel(logging.LevelError)
	e := nbio.NewEngine(nbio.Config{Network: "tcp", Addrs: []string{addr}})
	e.OnData(func(c *nbio.Conn, data []byte) { c.Write(data) })
	if err := e.Start(); err != nil {
		return nil, err
	}
	return e.Stop, nil
}

func fastHTTP(addr string) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("text/plain")
		ctx.WriteString(helloBody)
	}}
	go srv.Serve(ln)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.ShutdownWithContext(ctx)
	}, nil
}

func nbHTTP(addr string) (func(), error) {
	logging.SetLevel(logging.LevelError)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, helloBody)
	})
	e := nbhttp.NewEngine(nbhttp.Config{Network: "tcp", Addrs: []string{addr}, Handler: mux})
	if err := e.Start(); err != nil {
		return nil, err
	}
	return e.Stop, nil
}

func nbioWS(addr string) (func(), error) {
	logging.SetLevel(logging.LevelError)
	u := nbws.NewUpgrader()
	u.OnMessage(func(c *nbws.Conn, t nbws.MessageType, data []byte) { c.WriteMessage(t, data) })
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, err := u.Upgrade(w, r, nil); err != nil {
			return
		}
	})
	e := nbhttp.NewEngine(nbhttp.Config{Network: "tcp", Addrs: []string{addr}, Handler: mux})
	if err := e.Start(); err != nil {
		return nil, err
	}
	return e.Stop, nil
}

// gobwasWS is a goroutine-per-connection WebSocket echo over net with
// gobwas/ws frames and a 4 KiB read buffer.
func gobwasWS(addr string) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	go acceptLoop(ln, func(c net.Conn) {
		defer c.Close()
		if _, err := ws.Upgrade(c); err != nil {
			return
		}
		br := bufio.NewReaderSize(c, 4096)
		var payload []byte
		var out bytes.Buffer
		for {
			h, err := ws.ReadHeader(br)
			if err != nil {
				return
			}
			if cap(payload) < int(h.Length) {
				payload = make([]byte, h.Length)
			}
			p := payload[:h.Length]
			if _, err := io.ReadFull(br, p); err != nil {
				return
			}
			if h.Masked {
				ws.Cipher(p, h.Mask, 0)
			}
			switch h.OpCode {
			case ws.OpClose:
				ws.WriteFrame(c, ws.NewCloseFrame(p))
				return
			case ws.OpPing:
				ws.WriteFrame(c, ws.NewPongFrame(p))
				continue
			case ws.OpPong:
				continue
			}
			// Header and payload in one write, as a buffered writer would.
			out.Reset()
			ws.WriteHeader(&out, ws.Header{Fin: h.Fin, OpCode: h.OpCode, Length: h.Length})
			out.Write(p)
			if _, err := c.Write(out.Bytes()); err != nil {
				return
			}
		}
	})
	return func() { ln.Close() }, nil
}
