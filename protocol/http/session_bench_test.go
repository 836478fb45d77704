package http

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"

	"github.com/shunhui19/goes/core"
)

// TestHelloZeroAllocWithSessions: sessions configured cost a request that
// does not use its session nothing.
func TestHelloZeroAllocWithSessions(t *testing.T) {
	p := New()
	p.Sessions = &Sessions{Store: &MemoryStore{}}
	f := newFake(p, helloHandler)
	f.feed(helloReq)
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

func BenchmarkHelloSessionsConfigured(b *testing.B) {
	p := New()
	p.Sessions = &Sessions{Store: &MemoryStore{}}
	f := newFake(p, helloHandler)
	f.feed(helloReq)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.resetOutput()
		f.feed(helloReq)
	}
}

// visitsHandler reads and writes the session, like examples/http's
// /visits.
func visitsHandler(c core.Connection, _ []byte) {
	r := RequestOf(c)
	s, err := r.Session()
	if err != nil {
		panic(err)
	}
	n := s.GetInt("visits") + 1
	s.Set("visits", n)
	var buf [20]byte
	c.SendBytes(strconv.AppendInt(buf[:0], int64(n), 10), false)
}

var sessionCookieRe = regexp.MustCompile(`Set-Cookie: GOESSESSID=([0-9a-f]{32})`)

// BenchmarkSessionReadWrite is a keep-alive request whose handler reads a
// value of its session and writes it back, with the MemoryStore; compare
// with BenchmarkHelloSessionsConfigured for the sessions' own cost.
func BenchmarkSessionReadWrite(b *testing.B) {
	p := New()
	store := &MemoryStore{}
	p.Sessions = &Sessions{Store: store}
	f := newFake(p, visitsHandler)
	f.feed(helloReq)
	m := sessionCookieRe.FindSubmatch(f.output())
	if m == nil {
		b.Fatalf("no session cookie in %q", f.output())
	}
	req := []byte("GET /visits HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: bench\r\nCookie: GOESSESSID=" + string(m[1]) + "\r\n\r\n")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.resetOutput()
		f.feed(req)
	}
	b.StopTimer()
	if want := strconv.Itoa(b.N + 1); !bytes.HasSuffix(f.output(), []byte("\r\n\r\n"+want)) {
		b.Fatalf("last response %q, want the count %s", f.output(), want)
	}
	if store.Len() != 1 {
		b.Fatalf("%d sessions stored", store.Len())
	}
}
