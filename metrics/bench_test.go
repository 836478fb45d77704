package metrics_test

import (
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/metrics"
	"github.com/shunhui19/goes/protocol/http"
	"github.com/shunhui19/goes/protocol/websocket"
)

// conn is a connection of g, for calling the observers directly.
type conn struct {
	core.Connection
	g *core.Goer
}

func (c *conn) Goer() *core.Goer { return c.g }

// What metrics add to each HTTP response: one counter and one histogram
// observation.
func BenchmarkObserveResponse(b *testing.B) {
	p := http.New()
	g := core.NewGoer("127.0.0.1:0", p, "tcp")
	metrics.New(g)
	c := &conn{g: g}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Observer.ObserveResponse(c, "GET", 200, 150*time.Microsecond)
		}
	})
}

// What metrics add to each WebSocket message: one counter.
func BenchmarkObserveFrame(b *testing.B) {
	p := websocket.New()
	g := core.NewGoer("127.0.0.1:0", p, "tcp")
	metrics.New(g)
	c := &conn{g: g}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.Observer.ObserveFrame(c, false, "text")
		}
	})
}

func TestObserversDoNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts only mean something without -race")
	}
	p := http.New()
	g := core.NewGoer("127.0.0.1:0", p, "tcp")
	metrics.New(g)
	c := &conn{g: g}
	p.Observer.ObserveResponse(c, "GET", 200, time.Millisecond) // makes the histogram
	if n := testing.AllocsPerRun(1000, func() { p.Observer.ObserveResponse(c, "GET", 200, time.Millisecond) }); n != 0 {
		t.Errorf("ObserveResponse allocates %v times", n)
	}
}
