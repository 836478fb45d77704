package websocket_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/websocket"
)

// idleConns is how many loopback connections the memory tests hold.
const idleConns = 1500

// idleHeap serves p (nil: raw TCP echo) on the epoll engine, opens n
// connections that each make one 64-byte echo exchange (after the opening
// handshake for WebSocket) and then sit idle, and returns the growth of the
// process's live heap per connection. The clients live in this process too;
// they cost the same for every p, so differences between two calls are the
// server's.
func idleHeap(t *testing.T, p core.Protocol, n int) float64 {
	t.Helper()
	g := core.NewGoer("127.0.0.1:0", p, "tcp")
	g.Engine = "epoll"
	g.Logger = quietLogger()
	if p == nil {
		g.OnMessage = func(c core.Connection, data []byte) { c.SendBytes(data, true) }
	} else {
		g.OnMessage = echo
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	addr := g.Addr().String()

	payload := bytes.Repeat([]byte("x"), 64)
	msg := payload
	if p != nil {
		msg = frame(true, 0x2, payload, true)
	}
	want := len(payload)
	if p != nil {
		want += 2
	}
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
		deadline := time.Now().Add(10 * time.Second)
		for g.Connections.Len() > 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}()
	buf := make([]byte, 4096)
	key := make([]byte, 16)

	before := settledHeap()
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if p != nil {
			rand.Read(key)
			req := "GET /chat?room=1 HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\n\r\n"
			if _, err := io.WriteString(c, req); err != nil {
				t.Fatalf("handshake %d: %v", i, err)
			}
			got := 0
			for !bytes.Contains(buf[:got], []byte("\r\n\r\n")) {
				m, err := c.Read(buf[got:])
				if err != nil {
					t.Fatalf("handshake response %d: %v", i, err)
				}
				got += m
			}
			if !bytes.HasPrefix(buf, []byte("HTTP/1.1 101 ")) {
				t.Fatalf("handshake %d answered %q", i, buf[:got])
			}
		}
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("echo %d: %v", i, err)
		}
		if _, err := io.ReadFull(c, buf[:want]); err != nil {
			t.Fatalf("echo %d: %v", i, err)
		}
		if !bytes.Equal(buf[want-len(payload):want], payload) {
			t.Fatalf("echo %d: got %q", i, buf[:want])
		}
		c.SetDeadline(time.Time{})
	}
	// The lanes may still be unwinding from the last echo.
	after := settledHeap()
	if got := g.Connections.Len(); got != n {
		t.Fatalf("%d connections open, want %d", got, n)
	}
	if os.Getenv("GOES_WS_MEMPROFILE") != "" {
		reportHeap(t, n)
	}
	runtime.KeepAlive(conns)
	return float64(int64(after)-int64(before)) / float64(n)
}

// settledHeap is the live heap once it holds still: what finishes in the
// background (an earlier test's connections and goroutines winding down,
// the lanes after the last echo) is freed first, so that it does not move
// the baseline or the reading by hundreds of bytes per connection. It gives
// up waiting after 3 s.
func settledHeap() uint64 {
	const still = 32 << 10 // between two readings 20 ms apart
	h := liveHeap()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		next := liveHeap()
		d := int64(next) - int64(h)
		h = next
		if d < still && d > -still {
			break
		}
	}
	return h
}

func liveHeap() uint64 {
	var ms runtime.MemStats
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// reportHeap logs the live heap by allocation site, per connection. It
// needs runtime.MemProfileRate = 1 from before the connections were made.
func reportHeap(t *testing.T, n int) {
	var recs []runtime.MemProfileRecord
	for {
		m, ok := runtime.MemProfile(recs, false)
		if ok {
			recs = recs[:m]
			break
		}
		recs = make([]runtime.MemProfileRecord, m+50)
	}
	type site struct {
		bytes, objs int64
		stack       string
	}
	sites := map[string]*site{}
	for _, r := range recs {
		if r.InUseBytes() == 0 {
			continue
		}
		frames := runtime.CallersFrames(r.Stack())
		var names []string
		for {
			f, more := frames.Next()
			name := f.Function
			if i := strings.LastIndex(name, "/"); i >= 0 {
				name = name[i+1:]
			}
			names = append(names, fmt.Sprintf("%s:%d", name, f.Line))
			if !more || len(names) == 8 {
				break
			}
		}
		k := strings.Join(names, " < ")
		s := sites[k]
		if s == nil {
			s = &site{stack: k}
			sites[k] = s
		}
		s.bytes += r.InUseBytes()
		s.objs += r.InUseObjects()
	}
	list := make([]*site, 0, len(sites))
	for _, s := range sites {
		list = append(list, s)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].bytes > list[j].bytes })
	for _, s := range list {
		if s.objs < int64(n)/2 {
			continue
		}
		t.Logf("%7.1f B/conn %5.2f obj/conn  %s", float64(s.bytes)/float64(n), float64(s.objs)/float64(n), s.stack)
	}
}

// maxIdleLayerHeap bounds what the WebSocket layer may add to the live
// heap of an idle connection, over a raw TCP connection of the same engine:
// its state (80 bytes) and core's context box come to about 100 bytes.
// Before the handshake's leftovers were dropped it was about 1500.
const maxIdleLayerHeap = 512

// An idle WebSocket connection must stay small: the handshake's request,
// read buffers, decompressors and heartbeat timers are not kept.
func TestIdleConnectionHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("opens many connections")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the epoll engine is Linux only")
	}
	if os.Getenv("GOES_WS_MEMPROFILE") != "" {
		old := runtime.MemProfileRate
		runtime.MemProfileRate = 1
		defer func() { runtime.MemProfileRate = old }()
	}
	raw := idleHeap(t, nil, idleConns)
	for _, tc := range []struct {
		name  string
		setup func(p *websocket.Protocol)
	}{
		{"defaults", nil},
		{"heartbeat and compression", func(p *websocket.Protocol) {
			p.PingInterval = time.Hour // set, but no ping during the test
			p.Compression = true
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := websocket.New()
			if tc.setup != nil {
				tc.setup(p)
			}
			// A reading past the bound is taken again, with raw TCP beside
			// it, before it counts: the heap of a busy process moves; a
			// layer that keeps too much does so every time.
			var layer float64
			for try := 1; try <= 3; try++ {
				if try > 1 {
					raw = idleHeap(t, nil, idleConns)
				}
				ws := idleHeap(t, p, idleConns)
				layer = ws - raw
				t.Logf("live heap per idle connection: raw TCP %.0f B, WebSocket %.0f B, WebSocket layer %.0f B", raw, ws, layer)
				if layer <= maxIdleLayerHeap {
					break
				}
			}
			if layer > maxIdleLayerHeap {
				t.Errorf("the WebSocket layer holds %.0f B per idle connection, more than %d B, three times", layer, maxIdleLayerHeap)
			}
		})
	}
}
