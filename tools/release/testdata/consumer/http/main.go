// Command http is a program outside the goes repository: an HTTP server
// that answers every request with "hello from " and the request's path.
// It needs core, protocol/http and transport/tcp.
package main

import (
	"os"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func main() {
	g := core.NewGoer(os.Getenv("GOES_ADDR"), http.NewHttpProtocol(), "tcp")
	g.OnMessage = func(c core.Connection, _ []byte) {
		_ = c.Send("hello from "+http.RequestOf(c).Path(), false)
	}
	g.RunAll()
}
