package http_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
)

// lineProto is the smallest stateless protocol: one line in, the data out.
// The memory an idle HTTP connection holds beyond an idle lineProto one is
// what the HTTP protocol keeps per connection.
type lineProto struct{}

func (lineProto) Input(_ core.Connection, buf []byte) (int, error) {
	if i := bytes.IndexByte(buf, '\n'); i >= 0 {
		return i + 1, nil
	}
	return 0, nil
}
func (lineProto) Decode(_ core.Connection, pkg []byte) ([]byte, error) { return pkg, nil }
func (lineProto) Encode(_ core.Connection, dst, data []byte) ([]byte, error) {
	return append(dst, data...), nil
}

// idleHeap opens n loopback connections to a fresh Goer serving p (epoll
// engine), makes one exchange on each (req, then an answer of the same
// length as want), and returns the growth of the live heap per connection
// once they all sit idle. With profile set, it also returns the bytes per
// connection of the live objects allocated by each site whose nearest goes
// frame is in protocol/http.
func idleHeap(t *testing.T, p core.Protocol, h func(core.Connection, []byte), n int, req, want string, profile bool) (float64, map[string]float64) {
	t.Helper()
	g := core.NewGoer("127.0.0.1:0", p, "tcp")
	g.Engine = "epoll"
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g.OnMessage = h
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	addr := g.Addr().String()
	// warm up: the sweeper, the Date stamp, the loops
	warm := dialExchange(t, addr, req, want)
	defer warm.Close()

	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	base := liveHeap()
	before := httpSites()
	for i := 0; i < n; i++ {
		conns = append(conns, dialExchange(t, addr, req, want))
	}
	deadline := time.Now().Add(10 * time.Second)
	for g.Connections.Len() < n+1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the last responses' bookkeeping
	idle := liveHeap()
	var sites map[string]float64
	if profile {
		sites = map[string]float64{}
		for k, v := range httpSites() {
			if d := float64(v-before[k]) / float64(n); d != 0 {
				sites[k] = d
			}
		}
	}
	runtime.KeepAlive(conns)
	return float64(int64(idle)-int64(base)) / float64(n), sites
}

// dialExchange dials addr, sends req and reads an answer of len(want)
// bytes that starts like want.
func dialExchange(t *testing.T, addr, req, want string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		c.Close()
		t.Fatal(err)
	}
	buf := make([]byte, len(want))
	if _, err := io.ReadFull(c, buf); err != nil {
		c.Close()
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf, []byte(want[:min(len(want), 12)])) {
		c.Close()
		t.Fatalf("answer %q, want %q", buf, want)
	}
	c.SetDeadline(time.Time{})
	return c
}

// liveHeap is HeapAlloc after two collections.
func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

const goesPrefix = "github.com/shunhui19/goes/"

// httpSites returns the in-use bytes of the heap profile by allocation
// site, for the sites whose nearest goes frame is in protocol/http (not
// its tests).
func httpSites() map[string]int64 {
	runtime.GC()
	runtime.GC()
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs = make([]runtime.MemProfileRecord, n+100)
		var ok bool
		if n, ok = runtime.MemProfile(recs, true); ok {
			recs = recs[:n]
			break
		}
	}
	out := map[string]int64{}
	for i := range recs {
		r := &recs[i]
		frames := runtime.CallersFrames(r.Stack())
		var top string // the allocating function
		for {
			f, more := frames.Next()
			if top == "" && !strings.HasPrefix(f.Function, "runtime.") {
				top = f.Function
			}
			if strings.HasPrefix(f.Function, goesPrefix) {
				if strings.HasPrefix(f.Function, goesPrefix+"protocol/http.") && !strings.HasSuffix(f.File, "_test.go") {
					out[fmt.Sprintf("%s (%s:%d)", top, f.Function[len(goesPrefix):], f.Line)] += r.InUseBytes()
				}
				break
			}
			if !more {
				break
			}
		}
	}
	return out
}

const idleReq = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"

// helloAnswer returns the answer of a server with hello, for its length.
func helloAnswer(t *testing.T) string {
	addr := serve(t, http.New(), hello)
	c := rawConn(t, addr)
	io.WriteString(c, idleReq)
	resp, err := readRawResponse(c)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readRawResponse(c net.Conn) (string, error) {
	var raw bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c, &raw))
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", err
		}
		if line == "\r\n" {
			break
		}
	}
	body := make([]byte, len("hello, goer"))
	if _, err := io.ReadFull(br, body); err != nil {
		return "", err
	}
	return raw.String(), nil
}

// TestIdleConnMemoryReport prints what an idle keep-alive HTTP connection
// holds, by allocation site (run with -v and IDLE_REPORT=1).
func TestIdleConnMemoryReport(t *testing.T) {
	if os.Getenv("IDLE_REPORT") == "" {
		t.Skip("IDLE_REPORT not set")
	}
	const n = 2000
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = old }()
	want := helloAnswer(t)
	line, _ := idleHeap(t, lineProto{}, func(c core.Connection, _ []byte) { c.Send("ok\n", false) }, n, "x\n", "ok\n", false)
	hp, sites := idleHeap(t, http.New(), hello, n, idleReq, want, true)
	keys := make([]string, 0, len(sites))
	var sum float64
	for k, v := range sites {
		keys = append(keys, k)
		sum += v
	}
	sort.Slice(keys, func(i, j int) bool { return sites[keys[i]] > sites[keys[j]] })
	for _, k := range keys {
		t.Logf("%8.1f B/conn  %s", sites[k], k)
	}
	t.Logf("protocol/http sites: %.1f B/conn", sum)
	t.Logf("whole process: http %.1f B/conn, line protocol %.1f B/conn, difference %.1f B/conn", hp, line, hp-line)
}

// maxIdleConnBytes bounds the heap an idle keep-alive HTTP connection
// holds beyond an idle connection of the smallest protocol: the
// connection's state (64 bytes), its Context box and the send queue the
// first response grew (176 bytes for this one) measure about 250 bytes;
// a Request, Response and their buffers kept per connection were about
// 1000.
const maxIdleConnBytes = 512

// TestIdleConnMemory: an idle keep-alive connection holds no request
// state; only what the next request needs to begin.
func TestIdleConnMemory(t *testing.T) {
	const n = 1000
	want := helloAnswer(t)
	line, _ := idleHeap(t, lineProto{}, func(c core.Connection, _ []byte) { c.Send("ok\n", false) }, n, "x\n", "ok\n", false)
	hp, _ := idleHeap(t, http.New(), hello, n, idleReq, want, false)
	t.Logf("idle heap per connection: http %.0f B, line protocol %.0f B", hp, line)
	if d := hp - line; d > maxIdleConnBytes {
		t.Fatalf("an idle HTTP connection holds %.0f bytes more than a line protocol one, want at most %d", d, maxIdleConnBytes)
	}
}
