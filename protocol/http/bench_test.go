package http

import (
	"testing"

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
