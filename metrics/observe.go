package metrics

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shunhui19/goes/core"
)

// methods are the values of the method label; anything else is "other".
var methods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "other"}

// classes are the values of the code label by status / 100.
var classes = [...]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

func methodIndex(m string) int {
	for i, s := range methods[:len(methods)-1] {
		if s == m {
			return i
		}
	}
	return len(methods) - 1
}

// httpCounts are one Goer's HTTP responses by method and status class,
// and the latency histograms by method, made on first use.
type httpCounts struct {
	reqs    [len(methods)][len(classes)]atomic.Int64
	latency [len(methods)]atomic.Pointer[prometheus.Observer]
}

// httpObserver adapts Metrics to http.Observer.
type httpObserver Metrics

// ObserveResponse implements http.Observer: an atomic add, and for a
// request handed to the handler one histogram observation.
func (o *httpObserver) ObserveResponse(c core.Connection, method string, status int, elapsed time.Duration) {
	gm := (*Metrics)(o).of(c.Goer())
	if gm == nil || gm.http == nil {
		return
	}
	mi := methodIndex(method)
	ci := status / 100
	if ci < 1 || ci >= len(classes) {
		ci = 0
	}
	gm.http.reqs[mi][ci].Add(1)
	if elapsed < 0 {
		return // rejected while being read: not timed
	}
	h := gm.http.latency[mi].Load()
	if h == nil {
		ob := (*Metrics)(o).latency.WithLabelValues(append(labelsOf(gm.g), methods[mi])...)
		gm.http.latency[mi].CompareAndSwap(nil, &ob)
		h = gm.http.latency[mi].Load()
	}
	(*h).Observe(elapsed.Seconds())
}

// directions and frameKinds are the labels of goes_websocket_messages_total.
var (
	directions = [...]string{"received", "sent"}
	frameKinds = [...]string{"text", "binary", "ping", "pong", "close", "other"}
)

func kindIndex(k string) int {
	for i, s := range frameKinds[:len(frameKinds)-1] {
		if s == k {
			return i
		}
	}
	return len(frameKinds) - 1
}

// wsCounts are one Goer's WebSocket frames and close codes.
type wsCounts struct {
	frames [len(directions)][len(frameKinds)]atomic.Int64
	closes sync.Map // close code (int) -> *atomic.Int64
}

// wsObserver adapts Metrics to websocket.Observer.
type wsObserver Metrics

// ObserveFrame implements websocket.Observer.
func (o *wsObserver) ObserveFrame(c core.Connection, sent bool, kind string) {
	gm := (*Metrics)(o).of(c.Goer())
	if gm == nil || gm.ws == nil {
		return
	}
	d := 0
	if sent {
		d = 1
	}
	gm.ws.frames[d][kindIndex(kind)].Add(1)
}

// ObserveClose implements websocket.Observer.
func (o *wsObserver) ObserveClose(c core.Connection, code int) {
	gm := (*Metrics)(o).of(c.Goer())
	if gm == nil || gm.ws == nil {
		return
	}
	n, ok := gm.ws.closes.Load(code)
	if !ok {
		n, _ = gm.ws.closes.LoadOrStore(code, new(atomic.Int64))
	}
	n.(*atomic.Int64).Add(1)
}
