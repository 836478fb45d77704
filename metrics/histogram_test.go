package metrics_test

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	nethttp "net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/metrics"
	"github.com/shunhui19/goes/protocol/http"
)

// gathered returns the series of name whose labels include want, from reg.
func gathered(t *testing.T, reg prometheus.Gatherer, name string, want ...string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	f := families{}
	for _, mf := range mfs {
		f[mf.GetName()] = mf
	}
	return f.metric(name, want...)
}

// observed returns an HTTP Goer's metrics and a connection of it for
// calling the observer directly.
func observed() (*metrics.Metrics, *http.Protocol, core.Connection) {
	p := http.New()
	g := core.NewGoer("127.0.0.1:0", p, "tcp")
	g.Name = "web"
	return metrics.New(g), p, &conn{g: g}
}

// durationsAtEdges are latencies on and next to every bucket bound, and
// the extremes.
func durationsAtEdges() []time.Duration {
	ds := []time.Duration{0, 1, math.MaxInt64, 37 * time.Second}
	for _, u := range metrics.LatencyBuckets {
		d := time.Duration(math.Round(u * 1e9))
		ds = append(ds, d-1, d, d+1)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		ds = append(ds, time.Duration(r.Int64N(int64(20*time.Second))))
	}
	for range 2000 {
		ds = append(ds, time.Duration(r.Int64N(int64(2*time.Millisecond))))
	}
	return ds
}

// The latency histogram puts every duration in the bucket a Prometheus
// histogram observing its seconds would, and sums the same seconds.
func TestLatencyHistogramMatchesPrometheus(t *testing.T) {
	m, p, c := observed()
	ref := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ref", Buckets: metrics.LatencyBuckets})
	for _, d := range durationsAtEdges() {
		p.Observer.ObserveResponse(c, "GET", 200, d)
		ref.Observe(d.Seconds())
	}
	p.Observer.ObserveResponse(c, "GET", 400, -1) // untimed: counted, not in the histogram
	var want dto.Metric
	if err := ref.Write(&want); err != nil {
		t.Fatal(err)
	}
	got := gathered(t, m.Registry(), "goes_http_request_duration_seconds", "goer=web", "method=GET").GetHistogram()
	wh := want.GetHistogram()
	if got.GetSampleCount() != wh.GetSampleCount() || got.GetSampleSum() != wh.GetSampleSum() {
		t.Fatalf("count %d sum %v, want %d %v", got.GetSampleCount(), got.GetSampleSum(), wh.GetSampleCount(), wh.GetSampleSum())
	}
	if len(got.Bucket) != len(wh.Bucket) {
		t.Fatalf("%d buckets, want %d", len(got.Bucket), len(wh.Bucket))
	}
	for i, b := range wh.Bucket {
		if g := got.Bucket[i]; g.GetUpperBound() != b.GetUpperBound() || g.GetCumulativeCount() != b.GetCumulativeCount() {
			t.Errorf("bucket %d: le %v count %d, want le %v count %d", i, g.GetUpperBound(), g.GetCumulativeCount(), b.GetUpperBound(), b.GetCumulativeCount())
		}
	}
	n := uint64(len(durationsAtEdges()))
	if v := gathered(t, m.Registry(), "goes_http_requests_total", "method=GET", "code=2xx").GetCounter().GetValue(); v != float64(n) {
		t.Errorf("GET 2xx = %v, want %d", v, n)
	}
	if v := gathered(t, m.Registry(), "goes_http_requests_total", "method=GET", "code=4xx").GetCounter().GetValue(); v != 1 {
		t.Errorf("GET 4xx = %v, want 1", v)
	}
	if h := gathered(t, m.Registry(), "goes_http_request_duration_seconds", "method=POST"); h != nil {
		t.Errorf("a method never timed has a histogram: %v", h)
	}
}

// Concurrent observers lose no count: the totals are exact once they are
// done.
func TestConcurrentObservationsExact(t *testing.T) {
	m, p, c := observed()
	const workers, each = 4, 5000
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				p.Observer.ObserveResponse(c, "POST", 200+100*(w%2), time.Duration(i%3)*time.Millisecond)
			}
		}()
	}
	wg.Wait()
	h := gathered(t, m.Registry(), "goes_http_request_duration_seconds", "method=POST").GetHistogram()
	if h.GetSampleCount() != workers*each {
		t.Errorf("count %d, want %d", h.GetSampleCount(), workers*each)
	}
	// each worker observes 0, 1 and 2 ms in turn: (each/3) of each, the
	// remainder 0 then 1 ms.
	wantSum := float64(workers) * (float64(each/3)*0.003 + 0.001) // 5000 = 3*1666 + 2
	if math.Abs(h.GetSampleSum()-wantSum) > 1e-9 {
		t.Errorf("sum %v, want %v", h.GetSampleSum(), wantSum)
	}
	for _, code := range []string{"code=2xx", "code=3xx"} {
		if v := gathered(t, m.Registry(), "goes_http_requests_total", "method=POST", code).GetCounter().GetValue(); v != workers/2*each {
			t.Errorf("POST %s = %v, want %d", code, v, workers/2*each)
		}
	}
}

// LatencyBuckets set before New are the histogram's; bounds out of order
// are refused as Prometheus refuses them.
func TestLatencyBucketsChosen(t *testing.T) {
	saved := metrics.LatencyBuckets
	defer func() { metrics.LatencyBuckets = saved }()
	metrics.LatencyBuckets = []float64{.001, .01, math.Inf(1)}
	m, p, c := observed()
	for _, d := range []time.Duration{time.Millisecond, 2 * time.Millisecond, time.Second} {
		p.Observer.ObserveResponse(c, "GET", 200, d)
	}
	h := gathered(t, m.Registry(), "goes_http_request_duration_seconds", "method=GET").GetHistogram()
	var counts []uint64
	for _, b := range h.Bucket {
		counts = append(counts, b.GetCumulativeCount())
	}
	if len(counts) != 2 || counts[0] != 1 || counts[1] != 2 || h.GetSampleCount() != 3 {
		t.Errorf("buckets %v count %d, want [1 2] 3", counts, h.GetSampleCount())
	}

	metrics.LatencyBuckets = []float64{.01, .001}
	defer func() {
		if recover() == nil {
			t.Error("New took buckets out of order")
		}
	}()
	metrics.New()
}

// Responses told together (pipelined requests of one read) are counted
// as they would be one by one.
func TestLatencyBatchesMatchPrometheus(t *testing.T) {
	m, p, c := observed()
	bo := p.Observer.(http.BatchObserver)
	ref := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ref", Buckets: metrics.LatencyBuckets})
	ds := durationsAtEdges()
	for len(ds) > 0 {
		n := min(len(ds), 1+len(ds)%16)
		bo.ObserveResponses(c, "PUT", 201, ds[:n])
		for _, d := range ds[:n] {
			ref.Observe(d.Seconds())
		}
		ds = ds[n:]
	}
	var want dto.Metric
	if err := ref.Write(&want); err != nil {
		t.Fatal(err)
	}
	got := gathered(t, m.Registry(), "goes_http_request_duration_seconds", "method=PUT").GetHistogram()
	wh := want.GetHistogram()
	if got.GetSampleCount() != wh.GetSampleCount() || math.Abs(got.GetSampleSum()-wh.GetSampleSum()) > 1e-12*wh.GetSampleSum() {
		t.Fatalf("count %d sum %v, want %d %v", got.GetSampleCount(), got.GetSampleSum(), wh.GetSampleCount(), wh.GetSampleSum())
	}
	for i, b := range wh.Bucket {
		if g := got.Bucket[i]; g.GetUpperBound() != b.GetUpperBound() || g.GetCumulativeCount() != b.GetCumulativeCount() {
			t.Errorf("bucket %d: le %v count %d, want le %v count %d", i, g.GetUpperBound(), g.GetCumulativeCount(), b.GetUpperBound(), b.GetCumulativeCount())
		}
	}
	if v := gathered(t, m.Registry(), "goes_http_requests_total", "method=PUT", "code=2xx").GetCounter().GetValue(); v != float64(wh.GetSampleCount()) {
		t.Errorf("PUT 2xx = %v, want %d", v, wh.GetSampleCount())
	}
}

// The responses to pipelined requests are counted before the client can
// read them: a scrape right after reading them shows them all.
func TestPipelinedExact(t *testing.T) {
	s := newServer(t)
	c, err := net.Dial("tcp", s.web)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	const rounds, depth = 5, 16
	for r := range rounds {
		batch := strings.Repeat("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n", depth-1) + "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
		fmt.Fprint(c, batch)
		for range depth {
			resp, err := nethttp.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		f := scrape(t, s.scrape)
		ok, nope := f.value("goes_http_requests_total", "goer=web", "method=GET", "code=2xx"), f.value("goes_http_requests_total", "goer=web", "method=GET", "code=4xx")
		timed := f.value("goes_http_request_duration_seconds", "goer=web", "method=GET")
		if n := float64(r + 1); ok != n*(depth-1) || nope != n || timed != n*depth {
			t.Fatalf("after %d batches read: 2xx %v, 4xx %v, timed %v; want %v, %v, %v", r+1, ok, nope, timed, n*(depth-1), n, n*depth)
		}
	}
}
