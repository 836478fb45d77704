package metrics

import (
	"bytes"
	"fmt"
	nethttp "net/http"
	"sync"

	"github.com/prometheus/common/expfmt"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
	_ "github.com/shunhui19/goes/transport/tcp" // the Goer that Goer returns listens on tcp
)

// Path is where the Goer that Goer returns serves the metrics.
const Path = "/metrics"

var bufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// Serve answers the HTTP request on c, a connection of a goes HTTP Goer,
// with the metrics in the exposition format the scraper asks for (text or
// protobuf), the way promhttp does. Call it from OnMessage. A metric that
// cannot be gathered is answered 500 with the reason.
func (m *Metrics) Serve(c core.Connection) error {
	req := http.RequestOf(c)
	if req == nil {
		return http.ErrNoRequest
	}
	w := req.Response()
	mfs, err := m.reg.Gather()
	if err != nil {
		return w.Status(500).ContentType("text/plain; charset=utf-8").SendString(fmt.Sprintf("gathering the metrics failed: %v\n", err))
	}
	format := expfmt.Negotiate(nethttp.Header{"Accept": req.HeaderValues("Accept")})
	buf := bufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 1<<20 {
			buf.Reset()
			bufs.Put(buf)
		}
	}()
	enc := expfmt.NewEncoder(buf, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return w.Status(500).ContentType("text/plain; charset=utf-8").SendString(fmt.Sprintf("encoding the metrics failed: %v\n", err))
		}
	}
	if cl, ok := enc.(expfmt.Closer); ok {
		cl.Close()
	}
	return w.Status(200).Header("Content-Type", string(format)).Send(buf.Bytes())
}

// Goer returns a Goer that serves the metrics over HTTP at address, on
// Path (other paths get 404). Run it with the server's other Goers
// (core.RunAll(app, m.Goer(addr))): it then starts with them, its
// listening socket is handed to the new process on reload like theirs,
// and it stops with them. Its own connections are not counted; it uses
// the goroutine engine whatever GOES_ENGINE says.
func (m *Metrics) Goer(address string) *core.Goer {
	g := core.NewGoer(address, http.New(), "tcp")
	g.Name = "metrics"
	// A scrape gathers for a millisecond or two: on a goroutine of its
	// own it holds up no event loop. Scrapers are few.
	g.Engine = "goroutine"
	g.OnMessage = func(c core.Connection, _ []byte) {
		req := http.RequestOf(c)
		if req.Path() != Path {
			req.Response().Status(404).ContentType("text/plain; charset=utf-8").SendString("not found; the metrics are at " + Path + "\n")
			return
		}
		m.Serve(c)
	}
	return g
}
