// Command proxy is a TCP port forwarder built on Pipe: every connection
// accepted on GOES_ADDR gets a client connection to GOES_BACKEND, and the
// two are piped both ways. A backend that reads slowly stops the proxy
// reading its client (and the other way round), so a proxied pair holds
// at most its send limits in memory.
//
//	redis-server --port 6379 &
//	GOES_BACKEND=127.0.0.1:6379 go run ./proxy start   # start -d for a daemon
//	redis-cli -p 8080 ping
//	go run ./proxy stop                                 # or reload, status
//
// GOES_ADDR defaults to 127.0.0.1:8080, GOES_BACKEND to 127.0.0.1:6379. A
// backend that refuses closes the accepted connection.
package main

import (
	"os"

	"github.com/shunhui19/goes/core"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func main() {
	addr := os.Getenv("GOES_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	backend := os.Getenv("GOES_BACKEND")
	if backend == "" {
		backend = "127.0.0.1:6379"
	}
	newGoer(addr, backend).RunAll()
}

// newGoer builds the proxy; main runs it, the tests start it.
func newGoer(addr, backend string) *core.Goer {
	g := core.NewGoer(addr, nil, "tcp") // raw bytes both ways
	g.Name = "proxy"
	g.OnConnect = func(c core.Connection) {
		front := c.(*core.TCPConnection)
		back := core.NewAsyncConnection("tcp://"+backend, nil)
		back.Server = g
		back.OnError = func(_ core.Connection, code int, msg string) {
			if code == core.ErrCodeConnectFail {
				g.Log().Warn("backend unreachable", "backend", backend, "err", msg)
			}
		}
		front.Pipe(back)
		back.Pipe(front)
		back.Connect()
	}
	return g
}
