package metrics_test

import (
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/metrics"
)

// A peer that never reads: the send queue fills once, the next send is
// refused, and the metrics say so exactly.
func TestSendBufferFullAndRefusals(t *testing.T) {
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.Name = "flood"
	g.MaxSendBufferSize = 256 << 10
	chunk := strings.Repeat("x", 64<<10)
	var sent atomic.Int64
	refused := make(chan error, 1)
	g.OnConnect = func(c core.Connection) {
		for i := 0; i < 10000; i++ {
			if err := c.Send(chunk, true); err != nil {
				refused <- err
				return
			}
			sent.Add(1)
		}
		refused <- nil
	}
	m := metrics.New(g)
	addr := start(t, g)
	scrapeAddr := start(t, m.Goer("127.0.0.1:0"))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close() // never read
	select {
	case err := <-refused:
		if !errors.Is(err, core.ErrSendBufferFull) {
			t.Fatalf("the flood ended with %v, want ErrSendBufferFull", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the flood never ended")
	}
	f := eventually(t, scrapeAddr, "the refusal reported", func(f families) bool {
		return f.value("goes_errors_total", "goer=flood", "error=send_fail") == 1
	})
	for _, c := range []struct {
		name string
		want float64
	}{
		{"goes_send_buffer_full_total", 1},
		{"goes_send_failures_total", 1},
		{"goes_messages_sent_total", float64(sent.Load())},
		{"goes_connections_open", 1},
	} {
		if got := f.value(c.name, "goer=flood"); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
}
