// Command reloadserver is the program the process tests reload: a goes
// server with a TCP, a Unix and a UDP Goer whose replies carry the build's
// version (set with -ldflags "-X main.version=v2"), so a test can tell the
// old process from the new one. It records OnReload and OnStop in the file
// GOES_EVENTS. A build with -X main.broken=yes panics at start, as a bad
// release would; one with -X main.broken=onstart panics in the last Goer's
// OnStart. GOES_HTTP and GOES_WS add an HTTP and a WebSocket Goer that
// answer "VERSION:PID:..." too; with GOES_BYE set, the text Goers tell each
// connection "VERSION:PID:bye" and close it when a graceful stop begins.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
	"github.com/shunhui19/goes/protocol/text"
	"github.com/shunhui19/goes/protocol/websocket"
	_ "github.com/shunhui19/goes/transport/tcp"
	_ "github.com/shunhui19/goes/transport/udp"
)

var (
	version = "v1"
	broken  = ""
)

func main() {
	if broken == "yes" && len(os.Args) > 1 && os.Args[1] == "start" {
		panic("this release is broken")
	}
	reply := func(c core.Connection, data []byte) {
		line := string(data)
		if n, ok := strings.CutPrefix(line, "big "); ok { // a long answer, then close
			size, _ := strconv.Atoi(n)
			if err := c.Send(version+":"+strings.Repeat("x", size), false); err != nil {
				c.Goer().Log().Warn("answer not sent", "err", err)
			}
			c.Close("")
			return
		}
		if err := c.Send(fmt.Sprintf("%s:%d:%s", version, os.Getpid(), line), false); err != nil {
			c.Goer().Log().Warn("answer not sent; closing", "err", err)
			c.Close("")
		}
	}
	event := func(what string) func(*core.Goer) {
		return func(g *core.Goer) {
			f, err := os.OpenFile(os.Getenv("GOES_EVENTS"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err == nil {
				fmt.Fprintf(f, "%s %s %d %s\n", what, version, os.Getpid(), g.GetName())
				f.Close()
			}
		}
	}
	var goers []*core.Goer
	for _, spec := range []struct{ env, transport string }{
		{"GOES_ADDR", "tcp"}, {"GOES_UNIX", "unix"}, {"GOES_UDP", "udp"},
	} {
		addr := os.Getenv(spec.env)
		if addr == "" {
			continue
		}
		g := core.NewGoer(addr, text.New(), spec.transport)
		g.Name = spec.transport
		g.OnMessage = reply
		if os.Getenv("GOES_BYE") != "" {
			g.OnGracefulStop = func(c core.Connection) {
				c.Close(fmt.Sprintf("%s:%d:bye", version, os.Getpid()))
			}
		}
		goers = append(goers, g)
	}
	if addr := os.Getenv("GOES_HTTP"); addr != "" {
		g := core.NewGoer(addr, http.New(), "tcp")
		g.Name = "http"
		g.OnMessage = func(c core.Connection, _ []byte) {
			c.Send(fmt.Sprintf("%s:%d:%s", version, os.Getpid(), http.RequestOf(c).Path()), false)
		}
		goers = append(goers, g)
	}
	if addr := os.Getenv("GOES_WS"); addr != "" {
		g := core.NewGoer(addr, websocket.New(), "tcp")
		g.Name = "websocket"
		g.OnMessage = reply
		goers = append(goers, g)
	}
	for _, g := range goers {
		g.OnReload = event("reload")
		g.OnStop = event("stop")
		if d, err := time.ParseDuration(os.Getenv("GOES_GRACE")); err == nil {
			g.GracefulTimeout = d
		}
	}
	if broken == "onstart" && len(goers) > 0 {
		goers[len(goers)-1].OnStart = func(g *core.Goer) {
			panic("OnStart of this release is broken")
		}
	}
	core.RunAll(goers...)
}
