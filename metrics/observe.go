package metrics

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
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

// httpCounts are one Goer's HTTP responses and their latencies, in one
// array of counters: for every method and status class, a block with the
// sum of the seconds timed (float64 bits), the timed responses by latency
// bucket (not cumulative; the last bucket is +Inf), then the untimed ones
// (rejected while being read). A response costs one atomic add on its
// bucket and one on the sum next to it, mostly in the same cache line, so
// that the cores serving a Goer pass one line between them, not two. The
// request counters and the histograms are summed from the blocks when
// Prometheus scrapes.
type httpCounts struct {
	cells  []atomic.Uint64          // [method][class][stride]: sum, buckets, +Inf, untimed
	stride int                      // cells per block: 2 + width, rounded up to whole cache lines
	width  int                      // counters per block: the buckets, +Inf, untimed
	upper  []float64                // the buckets' upper bounds in seconds, without +Inf
	under  []time.Duration          // upper as the longest elapsed each bucket takes
	_      [lineWords*8*2 - 88]byte // see goerList
}

// lineWords is a cache line in counters.
const lineWords = 64 / 8

func newHTTPCounts(b *latencyBounds) *httpCounts {
	w := len(b.upper) + 2
	stride := (1 + w + lineWords - 1) / lineWords * lineWords
	return &httpCounts{
		cells:  make([]atomic.Uint64, len(methods)*len(classes)*stride),
		stride: stride,
		width:  w,
		upper:  b.upper,
		under:  b.under,
	}
}

// block returns the counters of method mi and class ci: the sum, then
// width counters by bucket (width-1: untimed).
func (h *httpCounts) block(mi, ci int) []atomic.Uint64 {
	i := (mi*len(classes) + ci) * h.stride
	return h.cells[i : i+1+h.width]
}

// cell returns the counter of method mi, class ci and bucket bi (width-1:
// untimed).
func (h *httpCounts) cell(mi, ci, bi int) *atomic.Uint64 {
	return &h.cells[(mi*len(classes)+ci)*h.stride+1+bi]
}

// observe counts one response; elapsed < 0: untimed.
func (h *httpCounts) observe(mi, ci int, elapsed time.Duration) {
	if elapsed < 0 {
		h.cell(mi, ci, h.width-1).Add(1)
		return
	}
	h.cell(mi, ci, h.bucket(elapsed)).Add(1)
	h.addSum(mi, ci, elapsed.Seconds())
}

// observeAll counts timed responses of one method and status class: one
// atomic add per bucket they fall in, one on the sum.
func (h *httpCounts) observeAll(mi, ci int, elapsed []time.Duration) {
	var sum float64
	bi, n := -1, uint64(0)
	for _, d := range elapsed {
		if d < 0 {
			h.cell(mi, ci, h.width-1).Add(1)
			continue
		}
		sum += d.Seconds()
		if b := h.bucket(d); b != bi {
			if n > 0 {
				h.cell(mi, ci, bi).Add(n)
			}
			bi, n = b, 0
		}
		n++
	}
	if n > 0 {
		h.cell(mi, ci, bi).Add(n)
		h.addSum(mi, ci, sum)
	}
}

// bucket returns the index of the bucket that takes elapsed (>= 0).
func (h *httpCounts) bucket(elapsed time.Duration) int {
	bi := 0
	for bi < len(h.under) && elapsed > h.under[bi] {
		bi++
	}
	return bi
}

// addSum adds v seconds to the sum of method mi and class ci.
func (h *httpCounts) addSum(mi, ci int, v float64) {
	s := &h.cells[(mi*len(classes)+ci)*h.stride]
	for {
		old := s.Load()
		if s.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// latencyBounds are the buckets of goes_http_request_duration_seconds.
type latencyBounds struct {
	upper []float64       // seconds, ascending, without +Inf
	under []time.Duration // for each bound, the longest elapsed whose Seconds() is within it
}

// newLatencyBounds checks and converts LatencyBuckets as Prometheus does
// (ascending; a last +Inf is implied and dropped).
func newLatencyBounds(buckets []float64) *latencyBounds {
	b := &latencyBounds{}
	for i, u := range buckets {
		if math.IsInf(u, 1) && i == len(buckets)-1 {
			break
		}
		if math.IsNaN(u) || (i > 0 && u <= buckets[i-1]) {
			panic(fmt.Sprintf("metrics: LatencyBuckets must be in increasing order: %v", buckets))
		}
		b.upper = append(b.upper, u)
		b.under = append(b.under, longestWithin(u))
	}
	return b
}

// longestWithin returns the longest d with d.Seconds() <= s, so that a
// bucket takes the same durations as a Prometheus histogram observing
// d.Seconds() would (math.MinInt64 when none, math.MaxInt64 when all).
func longestWithin(s float64) time.Duration {
	switch {
	case s >= math.MaxInt64/1e9:
		return math.MaxInt64
	case s < math.MinInt64/1e9:
		return math.MinInt64
	}
	d := time.Duration(math.Floor(s * 1e9))
	for d < math.MaxInt64 && (d+1).Seconds() <= s {
		d++
	}
	for d > math.MinInt64 && d.Seconds() > s {
		d--
	}
	return d
}

// collect sends h's request counters and latency histograms.
func (h *httpCounts) collect(ch chan<- prometheus.Metric, lv []string) {
	buckets := make([]uint64, h.width)
	for mi := range methods {
		var count uint64
		var sum float64
		clear(buckets)
		for ci := range classes {
			b := h.block(mi, ci)
			sum += math.Float64frombits(b[0].Load())
			var n uint64
			for bi := range h.width {
				v := b[1+bi].Load()
				n += v
				buckets[bi] += v
			}
			if n > 0 {
				ch <- prometheus.MustNewConstMetric(descRequests, prometheus.CounterValue, float64(n), append(lv[:3:3], methods[mi], classes[ci])...)
			}
		}
		for _, v := range buckets[:h.width-1] {
			count += v
		}
		if count == 0 {
			continue
		}
		cumulative := make(map[float64]uint64, len(h.upper))
		var below uint64
		for bi, u := range h.upper {
			below += buckets[bi]
			cumulative[u] = below
		}
		ch <- prometheus.MustNewConstHistogram(descLatency, count, sum, cumulative, append(lv[:3:3], methods[mi])...)
	}
}

// httpObserver adapts Metrics to http.Observer.
type httpObserver Metrics

var _ http.BatchObserver = (*httpObserver)(nil)

// ObserveResponse implements http.Observer: one atomic add, and for a
// request handed to the handler a second one on the latency sum.
func (o *httpObserver) ObserveResponse(c core.Connection, method string, status int, elapsed time.Duration) {
	gm := (*Metrics)(o).of(c.Goer())
	if gm == nil || gm.http == nil {
		return
	}
	gm.http.observe(methodIndex(method), classOf(status), elapsed)
}

// ObserveResponses implements http.BatchObserver: the responses to the
// pipelined requests of one read, counted by bucket.
func (o *httpObserver) ObserveResponses(c core.Connection, method string, status int, elapsed []time.Duration) {
	gm := (*Metrics)(o).of(c.Goer())
	if gm == nil || gm.http == nil {
		return
	}
	gm.http.observeAll(methodIndex(method), classOf(status), elapsed)
}

// classOf returns the index in classes of status's class.
func classOf(status int) int {
	ci := status / 100
	if ci < 1 || ci >= len(classes) {
		ci = 0
	}
	return ci
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
