package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/shunhui19/goes/core"
	goeshttp "github.com/shunhui19/goes/protocol/http"
	goesws "github.com/shunhui19/goes/protocol/websocket"
	_ "github.com/shunhui19/goes/transport/tcp"
)

// Server kinds: what a server speaks and which load shapes apply to it.
const (
	kindTCP  = "tcp"  // raw echo
	kindHTTP = "http" // "Hello, World!" over HTTP/1.1 keep-alive
	kindWS   = "ws"   // WebSocket echo, message type kept
)

// impl is one server under test. start runs in the child process: it
// returns once the server listens on addr, and the returned stop ends it.
type impl struct {
	Name   string // shown in the table
	Family string // what -servers selects: goes, gnet, nbio, net, fasthttp
	Kind   string
	Peer   bool
	start  func(addr string) (stop func(), err error)
}

// goesEngines lists the engines goes is measured with, one row each; the
// engine name is what Goer.Engine selects.
var goesEngines = []struct{ Name, Engine string }{
	{"goes/epoll", "epoll"}, // the default on Linux
	{"goes/goroutine", "goroutine"},
	{"goes/epoll+metrics", "epoll" + withMetrics},
}

// impls is every server, goes first, then the peers by kind.
func impls() []impl {
	var list []impl
	for _, e := range goesEngines {
		list = append(list,
			impl{Name: e.Name, Family: "goes", Kind: kindTCP, start: goesEcho(e.Engine)},
			impl{Name: e.Name, Family: "goes", Kind: kindHTTP, start: goesHTTP(e.Engine)},
			impl{Name: e.Name, Family: "goes", Kind: kindWS, start: goesWS(e.Engine)},
		)
	}
	list = append(list, proxyImpls()...)
	return append(list, peerImpls()...)
}

func findImpl(name, kind string) (impl, bool) {
	for _, im := range impls() {
		if im.Name == name && im.Kind == kind {
			return im, true
		}
	}
	return impl{}, false
}

const helloBody = "Hello, World!"

// newGoer builds a quiet Goer on the given engine.
func newGoer(addr string, p core.Protocol, engine string) (*core.Goer, error) {
	g := core.NewGoer(addr, p, "tcp")
	g.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := setEngine(g, engine); err != nil {
		return nil, err
	}
	return g, nil
}

// setEngine selects a goes engine by name, whatever GOES_ENGINE says.
func setEngine(g *core.Goer, engine string) error {
	if engine == "" {
		return errors.New("bench: no goes engine named")
	}
	g.Engine = strings.TrimSuffix(engine, withMetrics)
	return nil
}

func startGoer(g *core.Goer, engine string) (func(), error) {
	if strings.HasSuffix(engine, withMetrics) {
		return startWithMetrics(g)
	}
	if err := g.Start(); err != nil {
		return nil, err
	}
	return g.Stop, nil
}

func goesEcho(engine string) func(string) (func(), error) {
	return func(addr string) (func(), error) {
		g, err := newGoer(addr, nil, engine)
		if err != nil {
			return nil, err
		}
		g.OnMessage = func(c core.Connection, data []byte) { c.SendBytes(data, true) }
		return startGoer(g, engine)
	}
}

func goesHTTP(engine string) func(string) (func(), error) {
	return func(addr string) (func(), error) {
		g, err := newGoer(addr, goeshttp.New(), engine)
		if err != nil {
			return nil, err
		}
		g.OnMessage = func(c core.Connection, _ []byte) {
			goeshttp.RequestOf(c).Response().ContentType("text/plain").SendString(helloBody)
		}
		return startGoer(g, engine)
	}
}

func goesWS(engine string) func(string) (func(), error) {
	return func(addr string) (func(), error) {
		g, err := newGoer(addr, goesws.New(), engine)
		if err != nil {
			return nil, err
		}
		g.OnMessage = func(c core.Connection, data []byte) {
			goesws.SendMessage(c, goesws.MessageTypeOf(c), data)
		}
		return startGoer(g, engine)
	}
}

// netEcho is the plain goroutine-per-connection server.
func netEcho(addr string) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	go acceptLoop(ln, func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	})
	return func() { ln.Close() }, nil
}

func acceptLoop(ln net.Listener, serve func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off, go on.
			time.Sleep(5 * time.Millisecond)
			continue
		}
		go serve(c)
	}
}

func netHTTP(addr string) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, helloBody)
	}), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

// serveMain is the hidden "serve" subcommand: run one server until
// SIGTERM or SIGINT. It prints "ready" once the server listens.
func serveMain(args []string, stdout io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	name := fs.String("impl", "", "server name")
	kind := fs.String("kind", "", "tcp, http or ws")
	addr := fs.String("addr", "", "listen address")
	fs.StringVar(&proxyBackend, "backend", "", "the backend of a proxy")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	raiseFileLimit()
	if os.Getenv("BENCH_MEMPROFILE") != "" {
		runtime.MemProfileRate = 1 // every allocation, for a per-connection account
	}
	im, ok := findImpl(*name, *kind)
	if !ok {
		fmt.Fprintf(os.Stderr, "bench serve: no server %q of kind %q\n", *name, *kind)
		return 2
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	stop, err := im.start(*addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench serve: %s/%s: %v\n", *name, *kind, err)
		return 1
	}
	if path := os.Getenv("BENCH_CPUPROFILE"); path != "" {
		// One profile per server process: the name gets the server's and
		// the process id, so repeated runs do not overwrite each other.
		f, err := os.Create(fmt.Sprintf("%s.%s.%s.%d", path, strings.ReplaceAll(*name, "/", "-"), *kind, os.Getpid()))
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
	}
	w := bufio.NewWriter(stdout)
	fmt.Fprintln(w, "ready")
	w.Flush()
	serveMemStats(stdout)
	<-sig
	if path := os.Getenv("BENCH_MEMPROFILE"); path != "" {
		// The heap while the connections are still open.
		if f, err := os.Create(fmt.Sprintf("%s.%s.%s.%d", path, strings.ReplaceAll(*name, "/", "-"), *kind, os.Getpid())); err == nil {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms) // before the GC below: what RSS held
			runtime.GC()
			pprof.WriteHeapProfile(f)
			f.Close()
			os.WriteFile(f.Name()+".memstats", fmt.Appendf(nil,
				"HeapAlloc %d\nHeapInuse %d\nHeapIdle %d\nHeapReleased %d\nStackInuse %d\nMSpanInuse %d\nSys %d\nNumGC %d\n",
				ms.HeapAlloc, ms.HeapInuse, ms.HeapIdle, ms.HeapReleased, ms.StackInuse, ms.MSpanInuse, ms.Sys, ms.NumGC), 0o644)
		}
	}
	done := make(chan struct{})
	go func() { stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
	}
	return 0
}
