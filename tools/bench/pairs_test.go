package main

import (
	"strings"
	"testing"
)

func TestParseMemStats(t *testing.T) {
	if m, ok := parseMemStats("memstats 1048576 65536 12"); !ok || m != (memStats{1 << 20, 64 << 10, 12}) {
		t.Errorf("got %+v %v", m, ok)
	}
	for _, bad := range []string{"", "ready", "memstats 1 2", "memstats x 2 3"} {
		if _, ok := parseMemStats(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

// The pairs table shows the medians per pair, and the peer as 1.00×.
func TestPairsTable(t *testing.T) {
	s := section{Shape: shape{Name: "idle-proxy", Load: loadPairs, Kind: kindProxy}, Rows: []*row{
		{Server: "goes/epoll", Samples: []sample{
			{Conns: 100, KBPerConn: 2, HeapPerConn: 1500, StackPerConn: 10},
			{Conns: 100, KBPerConn: 3, HeapPerConn: 1700, StackPerConn: 30},
			{Conns: 100, KBPerConn: 4, HeapPerConn: 1600, StackPerConn: 20},
		}},
		{Server: "net", Peer: true, Samples: []sample{{Conns: 100, KBPerConn: 12, HeapPerConn: 2000, StackPerConn: 8192, GoroutinesPerConn: 2}}},
		{Server: "goes/goroutine", Errs: []string{"boom"}},
	}}
	s.aggregate()
	var b strings.Builder
	s.pairsTable(&b)
	for _, want := range []string{
		"| **goes/epoll** | 100 | 3.00 | 0.25× | 1620 | 1600 | 20 | 0.00 |",
		"| net | 100 | 12.00 | 1.00× | 10192 | 2000 | 8192 | 2.00 |",
		"| **goes/goroutine** | failed |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
}
