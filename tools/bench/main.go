package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		os.Exit(serveMain(os.Args[2:], os.Stdout))
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		killAllChildren()
		os.Exit(130)
	}()
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	killAllChildren()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// Loads: how a shape drives its server.
const (
	loadEcho = "echo" // own TCP client, request/response loop
	loadWrk  = "wrk"  // wrk, HTTP keep-alive, optionally pipelined
	loadWS   = "ws"   // own WebSocket client, request/response loop
	loadIdle = "idle" // open connections, one exchange each, then idle
)

// shape is one load against one kind of server.
type shape struct {
	Name     string // what -shapes selects
	Title    string
	Kind     string
	Load     string
	Conns    int
	Size     int // message size (echo, ws)
	Pipeline int // requests per wrk batch
}

type config struct {
	duration, warmup, settle time.Duration
	runs                     int
	servers, shapes          string
	echoLargeConns           int
	echoSmallConns           int
	httpConns, wrkThreads    int
	pipeline                 int
	wsConns                  int
	idle, idleMax            int
	idlePairs                int
	srcAddrs                 int
	wrk                      string
	out, svg                 string
	pinned                   bool
	serverCPUs, loadCPUs     []int // pinned: the server's CPUs and the harness's
	redisRequests            int
	proxyBin, rawBin         *binary // examples/proxy and rawproxy, built on first use
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./tools/bench [flags]\n\nRuns every server under every load shape, one after another, each server in its own process.")
		fs.PrintDefaults()
	}
	fs.DurationVar(&c.duration, "duration", 3*time.Second, "measured time of each load run")
	fs.DurationVar(&c.warmup, "warmup", 500*time.Millisecond, "load before measuring (own clients)")
	fs.DurationVar(&c.settle, "settle", time.Second, "wait before reading the memory of idle connections")
	fs.IntVar(&c.runs, "runs", 1, "repeat every measurement; the table shows medians")
	fs.StringVar(&c.servers, "servers", "", "comma-separated server families (goes, gnet, nbio, net, fasthttp) or names (goes/epoll); empty: all")
	fs.StringVar(&c.shapes, "shapes", "", "comma-separated shapes or prefixes (echo, http, ws, idle, echo-1k, ...); empty: all")
	fs.IntVar(&c.echoLargeConns, "echo-1k-conns", 100, "connections of the 1 KiB TCP echo")
	fs.IntVar(&c.echoSmallConns, "echo-64-conns", 1000, "connections of the 64 B TCP echo")
	fs.IntVar(&c.httpConns, "http-conns", 100, "wrk connections")
	fs.IntVar(&c.wrkThreads, "wrk-threads", 2, "wrk threads")
	fs.IntVar(&c.pipeline, "pipeline", 16, "pipelined requests per wrk batch")
	fs.IntVar(&c.wsConns, "ws-conns", 100, "connections of the 1 KiB WebSocket echo")
	fs.IntVar(&c.idle, "idle", 10000, "idle connections for the memory shapes (0: skip)")
	fs.IntVar(&c.idleMax, "idle-max", 0, "a second, larger idle point, e.g. 19000 (0: skip); the open-files limit bounds it")
	fs.IntVar(&c.idlePairs, "idle-pairs", 5000, "idle proxied pairs for the idle-proxy shape (0: skip)")
	fs.IntVar(&c.srcAddrs, "src-addrs", 8, "client source addresses 127.0.0.2 and up (0: the kernel's choice)")
	fs.StringVar(&c.wrk, "wrk", "wrk", "wrk binary")
	fs.StringVar(&c.out, "out", "", "write the table as Markdown to this file")
	fs.StringVar(&c.svg, "svg", "", "write the chart to this file (default: -out with .svg)")
	fs.IntVar(&c.redisRequests, "redis-requests", 100000, "requests of each redis-benchmark test (proxy-redis)")
	fs.BoolVar(&c.pinned, "pinned", false, "servers on CPU 0, the harness and wrk on the other CPUs (needs 2 or more); default: all share every CPU")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.runs < 1 || c.duration <= 0 || c.warmup < 0 {
		return c, errors.New("-runs must be ≥ 1 and -duration > 0")
	}
	if c.redisRequests < 1 {
		return c, errors.New("-redis-requests must be ≥ 1")
	}
	if c.srcAddrs < 0 || c.srcAddrs > 250 {
		return c, errors.New("-src-addrs must be in 0..250")
	}
	if c.pinned {
		n := runtime.NumCPU()
		if n < 2 {
			return c, errors.New("-pinned needs 2 or more CPUs")
		}
		c.serverCPUs = []int{0}
		for i := 1; i < n; i++ {
			c.loadCPUs = append(c.loadCPUs, i)
		}
	}
	if c.svg == "" && c.out != "" {
		c.svg = strings.TrimSuffix(c.out, ".md") + ".svg"
	}
	return c, nil
}

// allShapes lists the shapes in the order they run.
func (c config) allShapes() []shape {
	s := []shape{
		{Name: "echo-1k", Title: fmt.Sprintf("TCP echo, %d connections × 1 KiB", c.echoLargeConns), Kind: kindTCP, Load: loadEcho, Conns: c.echoLargeConns, Size: 1024},
		{Name: "echo-64", Title: fmt.Sprintf("TCP echo, %d connections × 64 B", c.echoSmallConns), Kind: kindTCP, Load: loadEcho, Conns: c.echoSmallConns, Size: 64},
		{Name: "echo-100x64", Title: "TCP echo, 100 connections × 64 B", Kind: kindTCP, Load: loadEcho, Conns: 100, Size: 64},
		{Name: "echo-100x16", Title: "TCP echo, 100 connections × 16 B", Kind: kindTCP, Load: loadEcho, Conns: 100, Size: 16},
		{Name: "http", Title: fmt.Sprintf("HTTP hello world, keep-alive (wrk -t%d -c%d)", c.wrkThreads, c.httpConns), Kind: kindHTTP, Load: loadWrk, Conns: c.httpConns, Pipeline: 1},
		{Name: fmt.Sprintf("http-pipe%d", c.pipeline), Title: fmt.Sprintf("HTTP hello world, %d pipelined requests (wrk -t%d -c%d; no latency: wrk times batches)", c.pipeline, c.wrkThreads, c.httpConns), Kind: kindHTTP, Load: loadWrk, Conns: c.httpConns, Pipeline: c.pipeline},
		{Name: "ws", Title: fmt.Sprintf("WebSocket echo, %d connections × 1 KiB", c.wsConns), Kind: kindWS, Load: loadWS, Conns: c.wsConns, Size: 1024},
	}
	for _, n := range []struct {
		n      int
		suffix string
	}{{c.idle, ""}, {c.idleMax, "-max"}} {
		if n.n <= 0 {
			continue
		}
		for _, k := range []struct{ kind, what string }{{kindTCP, "TCP echo"}, {kindHTTP, "HTTP"}, {kindWS, "WebSocket"}} {
			s = append(s, shape{
				Name:  "idle-" + k.kind + n.suffix,
				Title: fmt.Sprintf("Idle memory, %s connections (%s, one exchange each)", thousands(n.n), k.what),
				Kind:  k.kind, Load: loadIdle, Conns: n.n, Size: 64,
			})
		}
	}
	s = append(s, c.routeShapes()...)
	return append(s, c.pairShapes()...)
}

// selected reports whether name is chosen by a comma-separated filter of
// names and prefixes ("idle" picks "idle-tcp", "idle-http-max", ...).
func selected(filter, name string) bool {
	if strings.TrimSpace(filter) == "" {
		return true
	}
	for _, f := range strings.Split(filter, ",") {
		f = strings.TrimSpace(f)
		if f != "" && (name == f || strings.HasPrefix(name, f+"-")) {
			return true
		}
	}
	return false
}

// run is the whole harness: every selected shape against every selected
// server, runs times, then the report.
func run(args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if _, err := raiseFileLimit(); err != nil {
		fmt.Fprintln(stderr, "bench: cannot raise the open-files limit:", err)
	}
	if cfg.pinned {
		if err := pinSelf(cfg.loadCPUs); err != nil {
			return err
		}
	}
	self, err := selfPath()
	if err != nil {
		return err
	}
	wrkPath, err := exec.LookPath(cfg.wrk)
	if err != nil {
		wrkPath = ""
	}
	machine := readMachine(wrkPath)
	machine.Pinned = cfg.pinned
	fmt.Fprintln(stdout, "machine:", machine)

	dir, err := os.MkdirTemp("", "goes-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg.proxyBin, cfg.rawBin = examplesProxy(dir), rawProxy(dir)

	var sections []section
	for _, sh := range cfg.allShapes() {
		if !selected(cfg.shapes, sh.Name) {
			continue
		}
		if sh.Load == loadWrk && wrkPath == "" {
			fmt.Fprintf(stderr, "bench: %s: skipped, wrk not found (%q); install it with apt-get install wrk\n", sh.Name, cfg.wrk)
			continue
		}
		if sh.Load == loadRedis && !haveRedis() {
			fmt.Fprintf(stderr, "bench: %s: skipped, redis-server or redis-benchmark not found; install them with apt-get install redis-server redis-tools\n", sh.Name)
			continue
		}
		sec := section{Shape: sh}
		if sh.Kind == kindRoute {
			ws := inWorkspace()
			if !ws {
				fmt.Fprintf(stderr, "bench: %s: goes/proxy routes skipped: examples/proxy is built from the workspace (go.work) and GOWORK is off\n", sh.Name)
			}
			sec.Rows = routeRows(ws)
		}
		for _, im := range impls() {
			if im.Kind == sh.Kind && (selected(cfg.servers, im.Family) || selected(cfg.servers, im.Name)) {
				sec.Rows = append(sec.Rows, &row{Server: im.Name, Peer: im.Peer})
			}
		}
		if len(sec.Rows) == 0 {
			continue
		}
		for r := 1; r <= cfg.runs; r++ {
			for _, i := range runOrder(len(sec.Rows), r) {
				rw := sec.Rows[i]
				s, err := measure(cfg, self, wrkPath, sh, rw.Server)
				if err != nil {
					rw.Errs = append(rw.Errs, err.Error())
					fmt.Fprintf(stderr, "%-14s %-14s run %d/%d: %v\n", sh.Name, rw.Server, r, cfg.runs, err)
					continue
				}
				rw.Samples = append(rw.Samples, s)
				fmt.Fprintf(stderr, "%-14s %-14s run %d/%d: %s\n", sh.Name, rw.Server, r, cfg.runs, s.summary(sh))
			}
		}
		sec.aggregate()
		sections = append(sections, sec)
	}
	rep := report{Machine: machine.String(), Settings: cfg.settings(), Sections: sections,
		Command: strings.TrimSpace("go run ./tools/bench " + strings.Join(args, " "))}
	md := rep.markdown()
	fmt.Fprint(stdout, "\n", md)
	if cfg.out != "" {
		if err := os.WriteFile(cfg.out, []byte(md), 0o644); err != nil {
			return err
		}
	}
	if cfg.svg != "" {
		if err := os.WriteFile(cfg.svg, []byte(rep.svg()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (c config) settings() string {
	s := fmt.Sprintf("%v per load run after %v warm-up", c.duration, c.warmup)
	if c.runs > 1 {
		s += fmt.Sprintf(", median of %d runs (the servers' order rotates from run to run)", c.runs)
	} else {
		s += ", 1 run"
	}
	return s + fmt.Sprintf("; idle memory read %v after the last connection opened", c.settle)
}

// sample is one measurement of one server under one shape.
type sample struct {
	Throughput float64 // messages or requests per second
	P50, P99   time.Duration
	CPUPerMsg  float64 // server CPU µs per message
	CPUCores   float64 // server CPU seconds per second
	// The server's per message: user and system CPU µs, context
	// switches, system calls (all, and by kind; nil: not counted).
	UserPerMsg, SysPerMsg    float64
	CSPerMsg, SyscallsPerMsg float64
	ByKind                   map[string]float64
	WaitCores                float64 // the server's threads runnable but waiting for a CPU, per second
	RSSKB                    int64   // peak RSS under load; RSS with the idle connections
	BeforeKB                 int64   // idle: RSS before connecting
	KBPerConn                float64 // idle
	// idle pairs: the server's heap, goroutine stacks and goroutines per pair
	HeapPerConn, StackPerConn, GoroutinesPerConn float64
	Conns                                        int // idle: connections open when measured
	Notes                                        []string
}

func (s sample) summary(sh shape) string {
	if sh.Load == loadPairs {
		return fmt.Sprintf("%d pairs, RSS %s → %s, %.2f KB/pair; heap %.0f B + stacks %.0f B per pair, %.2f goroutines/pair %s", s.Conns, mb(s.BeforeKB), mb(s.RSSKB), s.KBPerConn,
			s.HeapPerConn, s.StackPerConn, s.GoroutinesPerConn, strings.Join(s.Notes, "; "))
	}
	if sh.Load == loadIdle {
		return fmt.Sprintf("%d conns, RSS %s → %s, %.2f KB/conn %s", s.Conns, mb(s.BeforeKB), mb(s.RSSKB), s.KBPerConn, strings.Join(s.Notes, "; "))
	}
	return fmt.Sprintf("%s/s p50 %v p99 %v, CPU %.2f µs/msg (%.2f cores, %.2f waiting; user %.2f, sys %.2f), %.3f cs/msg, %.2f syscalls/msg (%s), peak RSS %s %s",
		humanCount(s.Throughput), s.P50, s.P99, s.CPUPerMsg, s.CPUCores, s.WaitCores, s.UserPerMsg, s.SysPerMsg,
		s.CSPerMsg, s.SyscallsPerMsg, kindsCell(s.ByKind), mb(s.RSSKB), strings.Join(s.Notes, "; "))
}

func mb(kb int64) string { return fmt.Sprintf("%.1f MB", float64(kb)/1024) }

// measure starts the server in a child process, runs the shape's load
// against it and stops it.
func measure(cfg config, self, wrkPath string, sh shape, server string) (sample, error) {
	if sh.Load == loadPairs {
		return measurePairs(cfg, self, sh, server) // a backend first (pairs.go)
	}
	if sh.Kind == kindRoute {
		return measureRoute(cfg, self, sh, server) // a backend and a proxy (routes.go)
	}
	c, err := startChild(self, server, sh.Kind, cfg.serverCPUs, 15*time.Second)
	if err != nil {
		return sample{}, err
	}
	defer c.stop()
	d := &dialer{srcAddrs: cfg.srcAddrs, timeout: 5 * time.Second}
	var s sample
	switch sh.Load {
	case loadEcho, loadWS:
		s, err = measureLoop(cfg, c, d, sh)
	case loadWrk:
		s, err = measureWrk(cfg, c, wrkPath, sh)
	case loadIdle:
		s, err = measureIdle(cfg, c, d, sh)
	default:
		err = fmt.Errorf("unknown load %q", sh.Load)
	}
	return s, c.outcome(err)
}

// outcome is a run's error: err, or the child's death during the run, with
// the last lines the server wrote.
func (c *child) outcome(err error) error {
	if err == nil && !c.alive() {
		err = errChildDied
	}
	if err != nil {
		if tail := c.stderr.String(); tail != "" {
			err = fmt.Errorf("%w (server said: %s)", err, lastLines(tail, 5))
		}
	}
	return err
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// cpuMeter samples a child's CPU time, and counts its context switches
// and system calls, at a window's edges.
type cpuMeter struct {
	pid        int
	u0, u1     time.Duration // user
	s0, s1     time.Duration // system
	w0, w1     time.Time
	err0, err1 error
	ctr        *counters
}

// newCPUMeter starts following pid's counters; fill stops it.
func newCPUMeter(pid int) *cpuMeter { return &cpuMeter{pid: pid, ctr: startCounters(pid)} }

func (m *cpuMeter) begin() {
	m.ctr.begin()
	m.u0, m.s0, m.err0 = procCPU(m.pid)
	m.w0 = time.Now()
}

func (m *cpuMeter) end() {
	m.u1, m.s1, m.err1 = procCPU(m.pid)
	m.w1 = time.Now()
	m.ctr.end()
}

// fill sets the CPU figures of s for msgs messages.
func (m *cpuMeter) fill(s *sample, msgs uint64) {
	m.ctr.stop(s, msgs)
	if err := errors.Join(m.err0, m.err1); err != nil {
		s.Notes = append(s.Notes, "no CPU figures: "+err.Error())
		s.CPUPerMsg, s.CPUCores = math.NaN(), math.NaN()
		s.UserPerMsg, s.SysPerMsg = math.NaN(), math.NaN()
		return
	}
	user, sys := m.u1-m.u0, m.s1-m.s0
	cpu := user + sys
	if msgs > 0 {
		s.CPUPerMsg = float64(cpu.Nanoseconds()) / 1e3 / float64(msgs)
		s.UserPerMsg = float64(user.Nanoseconds()) / 1e3 / float64(msgs)
		s.SysPerMsg = float64(sys.Nanoseconds()) / 1e3 / float64(msgs)
	}
	if wall := m.w1.Sub(m.w0); wall > 0 {
		s.CPUCores = cpu.Seconds() / wall.Seconds()
	}
}

func peakRSS(c *child, s *sample) {
	if _, hwm, err := procMem(c.pid()); err == nil {
		s.RSSKB = hwm
	} else {
		s.Notes = append(s.Notes, "no RSS: "+err.Error())
	}
}

func measureLoop(cfg config, c *child, d *dialer, sh shape) (sample, error) {
	ctx := context.Background()
	deadline := time.Now().Add(cfg.warmup + cfg.duration + 30*time.Second)
	conns, err := dialMany(ctx, sh.Conns, 32, 1, func(ctx context.Context) (exchanger, error) {
		if sh.Load == loadWS {
			nc, br, err := dialWS(ctx, d, c.addr)
			if err != nil {
				return nil, err
			}
			nc.SetDeadline(deadline)
			wc, err := newWSConn(nc, br, sh.Size)
			if err != nil {
				nc.Close()
			}
			return wc, err
		}
		nc, err := d.dial(ctx, c.addr)
		if err != nil {
			return nil, err
		}
		nc.SetDeadline(deadline)
		if sh.Load == loadStream {
			return newStreamConn(nc, sh.Size), nil
		}
		return newEchoConn(nc, sh.Size), nil
	})
	defer closeAll(conns)
	if err != nil {
		return sample{}, fmt.Errorf("connect: %w", err)
	}
	m := newCPUMeter(c.pid())
	r := runLoop(conns, window{warmup: cfg.warmup, duration: cfg.duration, begin: m.begin, end: m.end})
	if r.msgs == 0 {
		m.ctr.stop(&sample{}, 0)
		return sample{}, fmt.Errorf("no round trip completed: %v", r.firstErr)
	}
	var s sample
	s.Throughput = float64(r.msgs) / r.elapsed.Seconds()
	s.P50, s.P99 = r.lat.quantile(0.50), r.lat.quantile(0.99)
	m.fill(&s, r.msgs)
	peakRSS(c, &s)
	if r.errors > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("%d of %d connections failed: %v", r.errors, len(conns), r.firstErr))
	}
	if r.stretched > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("no round trip completed in the %v window: it went on %v more for one", cfg.duration, r.stretched.Round(time.Millisecond)))
	}
	return s, nil
}

func measureWrk(cfg config, c *child, wrkPath string, sh shape) (sample, error) {
	m := newCPUMeter(c.pid())
	time.Sleep(2 * perfStartup) // perf attaches
	m.begin()
	w, err := runWrk(context.Background(), wrkPath, c.addr, cfg.wrkThreads, sh.Conns, cfg.duration, sh.Pipeline)
	m.end()
	if err == nil && w.requests == 0 {
		err = errors.New("wrk completed no request")
	}
	if err != nil {
		m.ctr.stop(&sample{}, 0)
		return sample{}, err
	}
	s := sample{Throughput: w.rps, P50: w.p50, P99: w.p99}
	if sh.Pipeline > 1 {
		// wrk times a whole batch and often reports zeros: not comparable.
		s.P50, s.P99 = 0, 0
	}
	m.fill(&s, w.requests)
	peakRSS(c, &s)
	if w.sockErrs > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("%d socket errors", w.sockErrs))
	}
	if w.non2xx > 0 {
		s.Notes = append(s.Notes, fmt.Sprintf("%d non-2xx responses", w.non2xx))
	}
	return s, nil
}

func measureIdle(cfg config, c *child, d *dialer, sh shape) (sample, error) {
	time.Sleep(200 * time.Millisecond)
	before, _, err := procMem(c.pid())
	if err != nil {
		return sample{}, err
	}
	// Stop after a few failures: past the open-files limit every further
	// connection would only wait for its timeout. The timeout is generous
	// because a shared machine may starve the server for seconds.
	d.timeout = 10 * time.Second
	conns, firstErr := dialMany(context.Background(), sh.Conns, 16, 20, func(ctx context.Context) (net.Conn, error) {
		return idleOpen(ctx, d, sh.Kind, c.addr)
	})
	defer closeAll(conns)
	if len(conns) == 0 {
		return sample{}, fmt.Errorf("no connection: %v", firstErr)
	}
	time.Sleep(cfg.settle)
	after, _, err := procMem(c.pid())
	if err != nil {
		return sample{}, err
	}
	s := sample{BeforeKB: before, RSSKB: after, Conns: len(conns)}
	s.KBPerConn = float64(after-before) / float64(len(conns))
	if len(conns) < sh.Conns {
		s.Notes = append(s.Notes, fmt.Sprintf("%d of %d connections opened: %v", len(conns), sh.Conns, firstErr))
	}
	return s, nil
}

// runOrder is the order the servers of a shape run in for run r (from 1):
// it rotates, so that no server always runs first, or always right after
// the same neighbour, on a machine whose load drifts.
func runOrder(n, r int) []int {
	order := make([]int, n)
	for k := range order {
		order[k] = (k + r - 1) % n
	}
	return order
}
