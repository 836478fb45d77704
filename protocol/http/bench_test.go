package http

import (
	"bytes"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

var (
	helloReq  = []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
	helloBody = []byte("hello, goer")
)

func helloHandler(c core.Connection, _ []byte) {
	r := RequestOf(c)
	if r == nil || r.Method() != "GET" {
		panic("no request")
	}
	c.SendBytes(helloBody, false)
}

// TestHelloZeroAlloc: the protocol's part of a keep-alive hello-world
// request (parse, deliver, encode) allocates nothing once warm.
func TestHelloZeroAlloc(t *testing.T) {
	f := newFake(New(), helloHandler)
	f.feed(helloReq) // warm up: per-connection state
	allocs := testing.AllocsPerRun(1000, func() {
		f.resetOutput()
		f.feed(helloReq)
	})
	if f.failErr != nil || f.msgs < 1001 {
		t.Fatalf("err %v msgs %d", f.failErr, f.msgs)
	}
	if allocs != 0 {
		t.Fatalf("%v allocations per request, want 0", allocs)
	}
}

func BenchmarkHello(b *testing.B) {
	f := newFake(New(), helloHandler)
	f.feed(helloReq)
	b.ReportAllocs()
	b.SetBytes(int64(len(helloReq)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.resetOutput()
		f.feed(helloReq)
	}
}

// wrkReq is what wrk sends for "/": the request line and Host only.
var wrkReq = []byte("GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n")

// benchHandler answers like tools/bench's goes HTTP server.
func benchHandler(c core.Connection, _ []byte) {
	RequestOf(c).Response().ContentType("text/plain").SendString("Hello, World!")
}

// BenchmarkHelloKeepAlive is one keep-alive request per read, answered
// like tools/bench does; the protocol's CPU without the kernel's.
func BenchmarkHelloKeepAlive(b *testing.B) {
	f := newFake(New(), benchHandler)
	f.feed(wrkReq)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.resetOutput()
		f.feed(wrkReq)
	}
}

// BenchmarkHelloPipelined16 feeds batches of 16 pipelined requests in one
// read, as wrk's pipeline script sends them; ns/op is per request.
func BenchmarkHelloPipelined16(b *testing.B) {
	const depth = 16
	batch := bytes.Repeat(wrkReq, depth)
	f := newFake(New(), benchHandler)
	f.feed(batch)
	if f.msgs != depth || f.failErr != nil {
		b.Fatalf("msgs %d err %v", f.msgs, f.failErr)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += depth {
		f.resetOutput()
		f.feed(batch)
	}
}

// nopBatch is a BatchObserver that does nothing.
type nopBatch struct{}

func (nopBatch) ObserveResponse(core.Connection, string, int, time.Duration)    {}
func (nopBatch) ObserveResponses(core.Connection, string, int, []time.Duration) {}

// Telling a BatchObserver of the responses gathered allocates nothing.
func TestWritesReleasedZeroAlloc(t *testing.T) {
	p := New()
	p.Observer = nopBatch{}
	st := p.state(newFake(p, helloHandler))
	st.obs = &observed{}
	allocs := testing.AllocsPerRun(1000, func() {
		st.mu.Lock()
		st.obs.batch, st.obs.method, st.obs.status, st.obs.n = nopBatch{}, "GET", 200, 3
		st.mu.Unlock()
		st.WritesReleased()
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per batch, want 0", allocs)
	}
}
