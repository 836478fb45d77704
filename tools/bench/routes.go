package main

// The route shapes: one load driven straight at a backend and through TCP
// proxies in front of it — examples/proxy (Pipe both ways, the binary built
// from this repository and run as its own process, on each engine) and the
// plain proxy of two io.Copy goroutines per connection (pairs.go's
// netProxy) and, on Linux, rawproxy, a minimal proxy written straight on
// system calls (epoll, read(2) and write(2) between the sockets) — so that
// the table shows what a hop through each costs. rawproxy is a reference,
// not a bound: edge-triggered, it reads each socket until EAGAIN, one read
// more per message than a level-triggered loop. The log line of each run
// gives the proxy's system calls per message, to hold against the four a
// proxied echo needs (a read and a write each way).
//
//	go run ./tools/bench -shapes proxy -runs 3 -out tools/bench/results/proxy-runs3.md

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	kindRoute  = "route"  // a load along each route: direct, and through each proxy
	loadRedis  = "redis"  // redis-benchmark, SET and GET
	loadStream = "stream" // each connection writes without waiting and reads what comes back
)

// The routes of a proxy section, one row each.
const (
	routeGoesEpoll     = "goes/proxy (epoll)"
	routeGoesGoroutine = "goes/proxy (goroutine)"
	routeIOCopy        = "io.Copy proxy"
	routeRaw           = "raw epoll proxy (reference)"
	routeDirect        = "direct"
)

// routeRows are a route section's rows: goes on both engines (unless
// withGoes is false), then the references (peers in the report's sense):
// the io.Copy proxy, rawproxy (Linux only) and direct.
func routeRows(withGoes bool) []*row {
	rows := []*row{{Server: routeIOCopy, Peer: true}}
	if runtime.GOOS == "linux" {
		rows = append(rows, &row{Server: routeRaw, Peer: true})
	}
	rows = append(rows, &row{Server: routeDirect, Peer: true})
	if withGoes {
		rows = append([]*row{{Server: routeGoesEpoll}, {Server: routeGoesGoroutine}}, rows...)
	}
	return rows
}

// inWorkspace reports whether the go command runs with a go.work, where
// examples/proxy can be built from the tools module (outside it, GOWORK=off,
// the tools module does not require the examples module).
func inWorkspace() bool {
	out, err := exec.Command("go", "env", "GOWORK").Output()
	w := strings.TrimSpace(string(out))
	return err == nil && w != "" && w != "off"
}

// routeShapes are the loads along the routes; -shapes proxy picks them.
func (c config) routeShapes() []shape {
	return []shape{
		{Name: "proxy-1k", Title: fmt.Sprintf("TCP proxy: echo through it, %d connections × 1 KiB", c.echoLargeConns), Kind: kindRoute, Load: loadEcho, Conns: c.echoLargeConns, Size: 1024},
		{Name: "proxy-64k", Title: "TCP proxy: echo through it, 8 connections × 64 KiB", Kind: kindRoute, Load: loadEcho, Conns: 8, Size: 64 << 10},
		{Name: "proxy-stream", Title: "TCP proxy: 8 connections streaming 64 KiB writes through it to an echo and reading them back (a message: 64 KiB)", Kind: kindRoute, Load: loadStream, Conns: 8, Size: 64 << 10},
		{Name: "proxy-redis", Title: fmt.Sprintf("TCP proxy: redis-benchmark through it (SET and GET, -c 50 -P 16, %s requests each)", thousands(c.redisRequests)), Kind: kindRoute, Load: loadRedis, Conns: 50, Pipeline: 16},
	}
}

// binary is a program of this repository the harness builds, once per
// run, into dir.
type binary struct {
	dir, pkg, hint string
	once           sync.Once
	path           string
	err            error
}

// examplesProxy is examples/proxy; rawProxy is rawproxy/.
func examplesProxy(dir string) *binary {
	return &binary{dir: dir, pkg: "github.com/shunhui19/goes/examples/proxy", hint: " (run from the repository, where go.work is)"}
}

func rawProxy(dir string) *binary {
	return &binary{dir: dir, pkg: "github.com/shunhui19/goes/tools/bench/rawproxy"}
}

func (p *binary) get() (string, error) {
	p.once.Do(func() {
		p.path = filepath.Join(p.dir, path.Base(p.pkg))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", p.path, p.pkg).CombinedOutput()
		if err != nil {
			p.err = fmt.Errorf("build %s%s: %v: %s", p.pkg, p.hint, err, strings.TrimSpace(string(out)))
		}
	})
	return p.path, p.err
}

func listens(addr string) func() bool {
	return func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	}
}

// startGoesProxy runs the built examples/proxy in front of backend on the
// given engine, in a directory of its own (its pid file goes there).
func startGoesProxy(cfg config, backend, engine string) (*child, error) {
	bin, err := cfg.proxyBin.get()
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(cfg.proxyBin.dir, "run")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "start")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOES_ADDR="+addr, "GOES_BACKEND="+backend, "GOES_ENGINE="+engine, "TMPDIR="+dir)
	cmd.SysProcAttr = childAttr()
	return launch(cmd, "goes/proxy", engine, addr, cfg.serverCPUs, 15*time.Second, listens(addr))
}

// startRawProxy runs rawproxy in front of backend.
func startRawProxy(cfg config, backend string) (*child, error) {
	bin, err := cfg.rawBin.get()
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-addr", addr, "-backend", backend)
	cmd.SysProcAttr = childAttr()
	return launch(cmd, "rawproxy", kindRoute, addr, cfg.serverCPUs, 15*time.Second, nil)
}

// startRedis runs redis-server, without persistence, on a free port.
func startRedis(cfg config) (*child, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	dir, err := os.MkdirTemp(cfg.proxyBin.dir, "redis")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", dir)
	cmd.SysProcAttr = childAttr()
	return launch(cmd, "redis-server", kindRoute, addr, cfg.serverCPUs, 15*time.Second, listens(addr))
}

// measureRoute runs sh's load along one route: the backend, the proxy in
// front of it (none for direct), the load against the front. The CPU
// figures are the proxy's (the backend's for direct).
func measureRoute(cfg config, self string, sh shape, route string) (sample, error) {
	var backend *child
	var err error
	if sh.Load == loadRedis {
		backend, err = startRedis(cfg)
	} else {
		backend, err = startChild(self, "net", kindTCP, cfg.serverCPUs, 15*time.Second)
	}
	if err != nil {
		return sample{}, fmt.Errorf("backend: %w", err)
	}
	defer backend.stop()
	front := backend
	switch route {
	case routeGoesEpoll:
		front, err = startGoesProxy(cfg, backend.addr, "epoll")
	case routeGoesGoroutine:
		front, err = startGoesProxy(cfg, backend.addr, "goroutine")
	case routeIOCopy:
		front, err = startChild(self, "net", kindProxy, cfg.serverCPUs, 15*time.Second, "-backend", backend.addr)
	case routeRaw:
		front, err = startRawProxy(cfg, backend.addr)
	}
	if err != nil {
		return sample{}, fmt.Errorf("proxy: %w", err)
	}
	if front != backend {
		defer front.stop()
	}
	var s sample
	if sh.Load == loadRedis {
		s, err = measureRedis(cfg, front, sh)
	} else {
		d := &dialer{srcAddrs: cfg.srcAddrs, timeout: 5 * time.Second}
		s, err = measureLoop(cfg, front, d, sh)
	}
	if err == nil && (!front.alive() || !backend.alive()) {
		err = errChildDied
	}
	if err != nil {
		if tail := front.stderr.String(); tail != "" {
			err = fmt.Errorf("%w (proxy said: %s)", err, lastLines(tail, 5))
		}
	}
	return s, err
}

// measureRedis runs redis-benchmark (SET and GET) against c; throughput
// is both tests' requests over both tests' time.
func measureRedis(cfg config, c *child, sh shape) (sample, error) {
	host, port, _ := net.SplitHostPort(c.addr)
	m := newCPUMeter(c.pid())
	time.Sleep(2 * perfStartup) // perf attaches
	m.begin()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-benchmark", "-h", host, "-p", port,
		"-c", strconv.Itoa(sh.Conns), "-P", strconv.Itoa(sh.Pipeline), "-n", strconv.Itoa(cfg.redisRequests),
		"-t", "set,get", "--csv").CombinedOutput()
	m.end()
	var rps map[string]float64
	if err == nil {
		rps, err = parseRedisCSV(string(out))
	}
	if err != nil {
		m.ctr.stop(&sample{}, 0)
		return sample{}, fmt.Errorf("redis-benchmark: %v: %s", err, lastLines(strings.TrimSpace(string(out)), 3))
	}
	s := sample{Throughput: 2 / (1/rps["SET"] + 1/rps["GET"])}
	m.fill(&s, uint64(2*cfg.redisRequests))
	peakRSS(c, &s)
	return s, nil
}

// parseRedisCSV reads redis-benchmark --csv: a header, then one line per
// test with its requests per second in the second column.
func parseRedisCSV(out string) (map[string]float64, error) {
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		return nil, err
	}
	rps := map[string]float64{}
	for _, r := range recs {
		if len(r) < 2 || r[0] == "test" {
			continue
		}
		v, err := strconv.ParseFloat(r[1], 64)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("bad rate %q for %s", r[1], r[0])
		}
		rps[r[0]] = v
	}
	if rps["SET"] == 0 || rps["GET"] == 0 {
		return nil, errors.New("no SET and GET rates in the output")
	}
	return rps, nil
}

// routeTable writes a route section: each route's throughput as a ratio
// of the io.Copy proxy's and of going direct, and the proxy process's
// costs.
func (s *section) routeTable(b *strings.Builder) {
	var ioc, direct *row
	for _, r := range s.Rows {
		switch r.Server {
		case routeIOCopy:
			ioc = r
		case routeDirect:
			direct = r
		}
	}
	get := func(r *row, f func(*row) float64) float64 {
		if r == nil || len(r.Samples) == 0 {
			return 0
		}
		return f(r)
	}
	tput := func(r *row) float64 { return r.Throughput }
	cpu := func(r *row) float64 { return r.CPUPerMsg }
	b.WriteString("| route | throughput /s | × io.Copy proxy | × direct | p50 | p99 | proxy CPU µs/msg | × io.Copy proxy | proxy CPU cores | proxy peak RSS |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range s.Rows {
		if len(r.Samples) == 0 {
			fmt.Fprintf(b, "| %s | failed | | | | | | | | |\n", serverCell(r))
			continue
		}
		cpuCell, cpuX, cores, rss := fixed(r.CPUPerMsg, 2), times(ratio(r.CPUPerMsg, get(ioc, cpu))), fixed(r.CPUCores, 2), mbf(r.RSSKB)
		if r.Server == routeDirect { // no proxy: these would be the backend's
			cpuCell, cpuX, cores, rss = "–", "–", "–", "–"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", serverCell(r),
			humanCount(r.Throughput), times(ratio(r.Throughput, get(ioc, tput))), times(ratio(r.Throughput, get(direct, tput))),
			latency(r.P50), latency(r.P99), cpuCell, cpuX, cores, rss)
	}
	b.WriteString("\nThe backend is the plain net echo server (redis-server for redis-benchmark), in its own process; each proxy runs in its own process too, and the CPU columns are the proxy's. The raw epoll proxy (reference) is tools/bench/rawproxy, a minimal proxy on system calls (edge-triggered epoll loops, read(2) and write(2) straight between the two sockets, each socket read until EAGAIN): a reference, not a bound. A proxied echo message needs at least four system calls in the proxy (a read and a write each way) besides the backend's two, on the same CPU here.\n")
}

func haveRedis() bool {
	for _, tool := range []string{"redis-server", "redis-benchmark"} {
		if _, err := exec.LookPath(tool); err != nil {
			return false
		}
	}
	return true
}

// streamConn streams: a goroutine writes size-byte chunks without waiting
// for the echo, and each exchange reads one chunk's worth back.
type streamConn struct {
	*net.TCPConn
	size  int
	in    []byte
	start sync.Once
}

func newStreamConn(c *net.TCPConn, size int) *streamConn {
	return &streamConn{TCPConn: c, size: size, in: make([]byte, size)}
}

func (s *streamConn) exchange() error {
	s.start.Do(func() {
		go func() {
			out := make([]byte, s.size)
			for {
				if _, err := s.Write(out); err != nil {
					return // closed at the end of the run
				}
			}
		}()
	})
	_, err := io.ReadFull(s.TCPConn, s.in)
	return err
}
