package metrics

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/daemon"
	"github.com/shunhui19/goes/protocol/http"
	"github.com/shunhui19/goes/protocol/websocket"
)

// LatencyBuckets are the bounds, in seconds, of
// goes_http_request_duration_seconds: from 100 µs, as goes answers most
// requests well within a millisecond, to 10 s. New reads them: change
// them before it to export other bounds (ascending; New panics otherwise).
var LatencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Metrics holds the collectors of a set of Goers and the registry they
// are gathered from. Its methods are safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	buckets *latencyBounds // LatencyBuckets when New ran

	mu    sync.Mutex
	goers atomic.Pointer[goerList] // replaced, never changed, under mu

	_ [lineWords*8*2 - 32]byte // see goerList
}

// goerList is the Goers exported. It, the Metrics, goerMetrics and
// httpCounts are read for every response, by every core: each fills two
// cache lines of its own (the allocator puts objects of 128 bytes on
// 128-byte boundaries), so that no object written elsewhere shares a line
// with them and takes it away from the cores that read it.
type goerList struct {
	all []*goerMetrics // its array filled up to 16 too
	_   [lineWords*8*2 - 24]byte
}

// goerMetrics is what is counted for one Goer outside core.
type goerMetrics struct {
	g    *core.Goer
	http *httpCounts // nil unless the Goer speaks HTTP
	ws   *wsCounts   // nil unless it speaks WebSocket
	_    [lineWords*8*2 - 24]byte
}

// New returns the metrics of goers, with the Go runtime and process
// collectors, in a registry of their own. Call it (and Add) before the
// Goers start: it sets the Observer of their HTTP and WebSocket protocols
// unless one is set already.
func New(goers ...*core.Goer) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), buckets: newLatencyBounds(LatencyBuckets)}
	m.goers.Store(&goerList{})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		(*goerCollector)(m),
	)
	for _, g := range goers {
		m.Add(g)
	}
	return m
}

// Add exports g's metrics too. Call it before g starts. Goers must have
// different names (GetName), or gathering fails.
func (m *Metrics) Add(g *core.Goer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	gm := &goerMetrics{g: g}
	switch p := g.Protocol.(type) {
	case *http.Protocol: // one Protocol may serve several of the Goers
		if p.Observer == nil || p.Observer == http.Observer((*httpObserver)(m)) {
			gm.http = newHTTPCounts(m.buckets)
			p.Observer = (*httpObserver)(m)
		}
	case *websocket.Protocol:
		if p.Observer == nil || p.Observer == websocket.Observer((*wsObserver)(m)) {
			gm.ws = &wsCounts{}
			p.Observer = (*wsObserver)(m)
		}
	}
	old := m.goers.Load().all
	next := append(append(make([]*goerMetrics, 0, max(16, len(old)+1)), old...), gm)
	m.goers.Store(&goerList{all: next})
}

// Registry returns the registry the metrics are gathered from; register
// the program's own collectors there to serve them alongside.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// of returns g's metrics, nil if g is not exported.
func (m *Metrics) of(g *core.Goer) *goerMetrics {
	for _, gm := range m.goers.Load().all {
		if gm.g == g {
			return gm
		}
	}
	return nil
}

// goerCollector reads the Goers' counters at scrape time.
type goerCollector Metrics

var goerLabels = []string{"goer", "transport", "protocol"}

func desc(name, help string, extra ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, append(append([]string(nil), goerLabels...), extra...), nil)
}

var (
	descOpen         = desc("goes_connections_open", "Open stream connections.")
	descAccepted     = desc("goes_connections_accepted_total", "Connections accepted.")
	descRejected     = desc("goes_connections_rejected_total", "Connections refused because MaxConnections was reached.")
	descClosed       = desc("goes_connections_closed_total", "Stream connections ended.")
	descRead         = desc("goes_read_bytes_total", "Bytes read from peers.")
	descWritten      = desc("goes_written_bytes_total", "Bytes written to peers.")
	descReceived     = desc("goes_messages_received_total", "Messages handed to OnMessage.")
	descSent         = desc("goes_messages_sent_total", "Messages queued by Send and SendBytes.")
	descBufferFull   = desc("goes_send_buffer_full_total", "Times a send queue reached MaxSendBufferSize.")
	descSendFailures = desc("goes_send_failures_total", "Sends refused (connection closed, queue full, datagram not sent).")
	descDropped      = desc("goes_datagrams_dropped_total", "Datagrams dropped (malformed, too large, queue full).")
	descErrors       = desc("goes_errors_total", "Errors reported to OnError, by code.", "error")
	descPanics       = desc("goes_panics_recovered_total", "Callback panics recovered.")
	descTimers       = desc("goes_timers_pending", "Tasks on the Goer's timing wheel.")
	descRunning      = desc("goes_goer_running", "1 while the Goer serves, else 0.")
	descStarted      = desc("goes_goer_start_time_seconds", "When the Goer started listening, in seconds since the Unix epoch.")
	descRequests     = desc("goes_http_requests_total", "HTTP responses, by request method and status class.", "method", "code")
	descLatency      = desc("goes_http_request_duration_seconds", "Time from an HTTP request's delivery to the handler until its response was queued.", "method")
	descWSMessages   = desc("goes_websocket_messages_total", "WebSocket messages and control frames, received or queued for sending.", "direction", "type")
	descWSCloses     = desc("goes_websocket_closes_total", "WebSocket connections ended, by close code (1006: without a close frame).", "code")
	descReloads      = prometheus.NewDesc("goes_reloads_total", "Reloads that led to this process.", nil, nil)
	descBuildInfo    = prometheus.NewDesc("goes_build_info", "The goes version the program was built with (always 1).", []string{"version", "goversion"}, nil)
)

// Describe implements prometheus.Collector.
func (gc *goerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOpen, descAccepted, descRejected, descClosed, descRead, descWritten,
		descReceived, descSent, descBufferFull, descSendFailures, descDropped, descErrors, descPanics, descTimers,
		descRunning, descStarted, descRequests, descLatency, descWSMessages, descWSCloses, descReloads, descBuildInfo} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: it reads every Goer's counters
// now. Nothing here walks the connections.
func (gc *goerCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descReloads, prometheus.CounterValue, float64(daemon.Reloads()))
	ch <- prometheus.MustNewConstMetric(descBuildInfo, prometheus.GaugeValue, 1, core.Version, runtime.Version())
	for _, gm := range (*Metrics)(gc).goers.Load().all {
		gm.collect(ch)
	}
}

func (gm *goerMetrics) collect(ch chan<- prometheus.Metric) {
	g := gm.g
	lv := labelsOf(g)
	s := g.Stats()
	counter := func(d *prometheus.Desc, v int64, extra ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append(lv[:3:3], extra...)...)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, lv...)
	}
	gauge(descOpen, float64(g.OpenConnections()))
	counter(descAccepted, s.Accepted.Load())
	counter(descRejected, s.Rejected.Load())
	counter(descClosed, s.Closed.Load())
	counter(descRead, s.BytesRead.Load())
	counter(descWritten, s.BytesWritten.Load())
	counter(descReceived, s.Requests.Load())
	counter(descSent, s.Sent.Load())
	counter(descBufferFull, s.BufferFull.Load())
	counter(descSendFailures, s.SendFailures.Load())
	counter(descDropped, s.Dropped.Load())
	for _, code := range core.ErrorCodes() {
		counter(descErrors, s.Errors(code), core.ErrorName(code))
	}
	counter(descErrors, s.Errors(0), core.ErrorName(0))
	counter(descPanics, s.Panics.Load())
	gauge(descTimers, float64(g.PendingTimers()))
	running := 0.0
	if g.Running() {
		running = 1
	}
	gauge(descRunning, running)
	if t := g.Started(); !t.IsZero() {
		gauge(descStarted, float64(t.UnixNano())/1e9)
	}
	if h := gm.http; h != nil {
		h.collect(ch, lv)
	}
	if w := gm.ws; w != nil {
		for di := range w.frames {
			for ki := range w.frames[di] {
				if v := w.frames[di][ki].Load(); v > 0 {
					counter(descWSMessages, v, directions[di], frameKinds[ki])
				}
			}
		}
		w.closes.Range(func(code, n any) bool {
			counter(descWSCloses, n.(*atomic.Int64).Load(), strconv.Itoa(code.(int)))
			return true
		})
	}
}

// labelsOf returns the values of goerLabels for g.
func labelsOf(g *core.Goer) []string {
	lv := []string{g.GetName(), g.Transport, core.ProtocolName(g.Protocol)}
	if lv[1] == "" {
		lv[1] = core.DefaultTransport
	}
	return lv
}
