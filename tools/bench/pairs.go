package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/shunhui19/goes/core"
)

// The memory of idle proxied pairs: a proxy (the server under test) pipes
// every connection it accepts to a client connection of its own to a
// backend, both ways, as examples/proxy does; each pair carries one
// exchange (client → proxy → backend and back), then idles. The backend
// runs in the harness, so the server's process holds the pairs alone: its
// RSS, heap and goroutine stacks before and after, divided by the pairs.
//
//	go run ./tools/bench -shapes idle-proxy -idle-pairs 5000 -runs 3
const (
	loadPairs = "pairs"
	kindProxy = "proxy" // a raw TCP proxy to the backend named by -backend
)

// pairShapes is the idle-pairs shape, unless -idle-pairs is 0.
func (c config) pairShapes() []shape {
	if c.idlePairs <= 0 {
		return nil
	}
	return []shape{{
		Name:  "idle-proxy",
		Title: fmt.Sprintf("Idle memory, %s proxied pairs (client → proxy → backend: an accepted and a dialed connection piped both ways, one exchange each)", thousands(c.idlePairs)),
		Kind:  kindProxy, Load: loadPairs, Conns: c.idlePairs, Size: 64,
	}}
}

// proxyImpls are the proxies measured: goes on both engines (clients on
// the Server's engine), and goroutines copying both ways as the reference.
func proxyImpls() []impl {
	return []impl{
		{Name: "goes/epoll", Family: "goes", Kind: kindProxy, start: goesProxy("epoll")},
		{Name: "goes/goroutine", Family: "goes", Kind: kindProxy, start: goesProxy("goroutine")},
		{Name: "net", Family: "net", Kind: kindProxy, Peer: true, start: netProxy},
	}
}

// proxyBackend is where the proxies of a server process connect (its
// -backend flag).
var proxyBackend string

func goesProxy(engine string) func(string) (func(), error) {
	return func(addr string) (func(), error) {
		g, err := newGoer(addr, nil, engine)
		if err != nil {
			return nil, err
		}
		g.OnConnect = func(c core.Connection) {
			front := c.(*core.TCPConnection)
			back := core.NewAsyncConnection("tcp://"+proxyBackend, nil)
			back.Server = g // and so its engine
			front.Pipe(back)
			back.Pipe(front)
			back.Connect()
		}
		return startGoer(g, engine)
	}
}

// netProxy copies each way on a goroutine of its own, with io.Copy's
// buffer: a TCPConn's ReadFrom would splice through a pipe, two more
// descriptors per waiting direction, and the open-files limit would stop
// it at a third of the pairs.
func netProxy(addr string) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	go acceptLoop(ln, func(front net.Conn) {
		back, err := net.DialTimeout("tcp", proxyBackend, 10*time.Second)
		if err != nil {
			front.Close()
			return
		}
		go func() {
			io.Copy(struct{ io.Writer }{back}, struct{ io.Reader }{front})
			back.(*net.TCPConn).CloseWrite()
		}()
		io.Copy(struct{ io.Writer }{front}, struct{ io.Reader }{back})
		front.Close()
		back.Close()
	})
	return func() { ln.Close() }, nil
}

// memStatsRequest is the signal that asks a server process for its
// memory: it answers with a memstatsLine on its standard output.
const memStatsRequest = syscall.SIGUSR1

// serveMemStats answers memStatsRequest until the process ends.
func serveMemStats(out io.Writer) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, memStatsRequest)
	go func() {
		for range ch {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Fprintf(out, "memstats %d %d %d\n", ms.HeapAlloc, ms.StackInuse, runtime.NumGoroutine())
		}
	}()
}

// memStats is a server's answer to memStatsRequest.
type memStats struct{ heap, stack, goroutines int64 }

func parseMemStats(line string) (memStats, bool) {
	var m memStats
	_, err := fmt.Sscanf(line, "memstats %d %d %d", &m.heap, &m.stack, &m.goroutines)
	return m, err == nil
}

// askMemStats signals the child and waits for its answer.
func (c *child) askMemStats() (memStats, error) {
	for len(c.lines) > 0 { // an answer that came too late before
		<-c.lines
	}
	if err := c.cmd.Process.Signal(memStatsRequest); err != nil {
		return memStats{}, err
	}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l := <-c.lines:
			if m, ok := parseMemStats(l); ok {
				return m, nil
			}
		case <-c.exited:
			return memStats{}, errChildDied
		case <-timeout:
			return memStats{}, errors.New("bench: the server did not report its memory")
		}
	}
}

// measurePairs runs the backend here, the proxy in a child, and opens the
// pairs through it.
func measurePairs(cfg config, self string, sh shape, server string) (sample, error) {
	stopBackend, backend, err := startBackend()
	if err != nil {
		return sample{}, fmt.Errorf("backend: %w", err)
	}
	defer stopBackend()
	c, err := startChild(self, server, sh.Kind, cfg.serverCPUs, 15*time.Second, "-backend", backend)
	if err != nil {
		return sample{}, err
	}
	defer c.stop()
	s, err := measurePairsOn(cfg, c, sh)
	return s, c.outcome(err)
}

// startBackend runs the backend: a goes echo server on the epoll engine,
// in the harness's process.
func startBackend() (stop func(), addr string, err error) {
	g, err := newGoer("127.0.0.1:0", nil, "epoll")
	if err != nil {
		return nil, "", err
	}
	g.OnMessage = func(c core.Connection, data []byte) { c.SendBytes(data, true) }
	if err := g.Start(); err != nil {
		return nil, "", err
	}
	return g.Stop, g.Addr().String(), nil
}

func measurePairsOn(cfg config, c *child, sh shape) (sample, error) {
	time.Sleep(200 * time.Millisecond)
	before, _, err := procMem(c.pid())
	if err != nil {
		return sample{}, err
	}
	m0, err := c.askMemStats()
	if err != nil {
		return sample{}, err
	}
	d := &dialer{srcAddrs: cfg.srcAddrs, timeout: 10 * time.Second}
	conns, firstErr := dialMany(context.Background(), sh.Conns, 16, 20, func(ctx context.Context) (net.Conn, error) {
		return idleOpen(ctx, d, kindTCP, c.addr)
	})
	defer closeAll(conns)
	if len(conns) == 0 {
		return sample{}, fmt.Errorf("no pair: %v", firstErr)
	}
	time.Sleep(cfg.settle)
	after, _, err := procMem(c.pid())
	if err != nil {
		return sample{}, err
	}
	m1, err := c.askMemStats()
	if err != nil {
		return sample{}, err
	}
	n := float64(len(conns))
	s := sample{BeforeKB: before, RSSKB: after, Conns: len(conns)}
	s.KBPerConn = float64(after-before) / n
	s.HeapPerConn = float64(m1.heap-m0.heap) / n
	s.StackPerConn = float64(m1.stack-m0.stack) / n
	s.GoroutinesPerConn = float64(m1.goroutines-m0.goroutines) / n
	if len(conns) < sh.Conns {
		s.Notes = append(s.Notes, fmt.Sprintf("%d of %d pairs opened: %v", len(conns), sh.Conns, firstErr))
	}
	return s, nil
}

// pairsTable writes the idle-pairs section's table.
func (s *section) pairsTable(b *strings.Builder) {
	med := func(r *row, f func(sample) float64) float64 {
		xs := make([]float64, 0, len(r.Samples))
		for _, x := range r.Samples {
			xs = append(xs, f(x))
		}
		return median(xs)
	}
	best := s.bestPeer(func(r *row) float64 { return r.KBPerConn }, false)
	b.WriteString("| server | pairs | RSS KB/pair | × best peer | heap + stacks, B/pair | heap B/pair | stacks B/pair | goroutines/pair | RSS before | RSS with pairs |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range s.Rows {
		if len(r.Samples) == 0 {
			fmt.Fprintf(b, "| %s | failed | | | | | | | | |\n", serverCell(r))
			continue
		}
		heap := med(r, func(x sample) float64 { return x.HeapPerConn })
		stack := med(r, func(x sample) float64 { return x.StackPerConn })
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", serverCell(r), thousands(int(r.Conns)),
			fixed(r.KBPerConn, 2), times(ratio(r.KBPerConn, best)), fixed(heap+stack, 0), fixed(heap, 0), fixed(stack, 0),
			fixed(med(r, func(x sample) float64 { return x.GoroutinesPerConn }), 2), mbf(r.BeforeKB), mbf(r.RSSKB))
	}
}
