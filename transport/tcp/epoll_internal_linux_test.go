package tcp

import (
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/shunhui19/goes/core"
)

// A handler that blocks hands its loop to a new goroutine: the loop's other
// connections are answered meanwhile, and what the blocked connection's
// peer sends while its handler blocks is delivered afterwards, in order.
func TestEpollBlockingHandlerHandsLoopOver(t *testing.T) {
	release := make(chan struct{})
	g := epollGoer("127.0.0.1:0")
	g.OnMessage = func(c core.Connection, d []byte) {
		if string(d) == "block" {
			<-release
		}
		c.SendBytes(d, false)
	}
	var served sync.Map // a client's address → the loop serving it
	g.OnConnect = func(c core.Connection) {
		tc := c.(*core.TCPConnection)
		served.Store(tc.GetRemoteAddress(), tc.Socket().(*econn).loop)
	}
	eng := startEpoll(t, g)
	dial := func() (net.Conn, *eloop) {
		c, err := net.DialTimeout("tcp", g.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if l, ok := served.Load(c.LocalAddr().String()); ok {
				return c, l.(*eloop)
			}
		}
		t.Fatal("a connection was not served")
		return nil, nil
	}
	blocked, _ := dial()
	// Every loop gets a connection besides the blocked one's. Whichever
	// loop is free accepts, so dial until each has one.
	var others []net.Conn
	covered := map[*eloop]bool{}
	for len(covered) < len(eng.loops) && len(others) < 200 {
		c, l := dial()
		others = append(others, c)
		covered[l] = true
	}
	if len(covered) < len(eng.loops) {
		t.Fatalf("%d connections reached %d of %d loops", len(others), len(covered), len(eng.loops))
	}
	if _, err := blocked.Write([]byte("block")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := blocked.Write([]byte("after")); err != nil {
		t.Fatal(err)
	}
	for i, c := range others {
		msg := []byte("ping" + strings.Repeat("!", i))
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != string(msg) {
			close(release)
			t.Fatalf("connection %d while another handler blocks: %q, %v", i, got, err)
		}
	}
	if eng.handoffs.Load() == 0 {
		close(release)
		t.Fatal("no loop was handed over while a handler blocked")
	}
	close(release)
	blocked.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len("blockafter"))
	if _, err := io.ReadFull(blocked, got); err != nil || string(got) != "blockafter" {
		t.Fatalf("blocked connection got %q, %v", got, err)
	}
}

// The loops accept with accept4: a connection has the addresses and the
// socket options (no Nagle, keep-alive) it would have through Go's net
// package, on IPv4, IPv6 and a wildcard listener.
func TestEpollAcceptedConnection(t *testing.T) {
	for _, tt := range []struct{ listen, dial string }{
		{"127.0.0.1:0", "127.0.0.1"},
		{"[::1]:0", "[::1]"},
		{":0", "127.0.0.1"},
	} {
		t.Run(tt.listen, func(t *testing.T) {
			type seen struct {
				local, remote string
				nodelay, keep int
			}
			got := make(chan seen, 1)
			g := epollGoer(tt.listen)
			g.OnConnect = func(c core.Connection) {
				tc := c.(*core.TCPConnection)
				ec := tc.Socket().(*econn)
				nd, _ := syscall.GetsockoptInt(int(ec.fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY)
				ka, _ := syscall.GetsockoptInt(int(ec.fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
				got <- seen{tc.GetLocalAddress(), tc.GetRemoteAddress(), nd, ka}
			}
			if err := g.Start(); err != nil {
				if strings.Contains(tt.listen, "::1") {
					t.Skip("no IPv6 loopback:", err)
				}
				t.Fatal(err)
			}
			defer g.Stop()
			_, port, _ := net.SplitHostPort(g.Addr().String())
			c, err := net.DialTimeout("tcp", tt.dial+":"+port, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var s seen
			select {
			case s = <-got:
			case <-time.After(5 * time.Second):
				t.Fatal("no OnConnect")
			}
			if s.remote != c.LocalAddr().String() || s.local != c.RemoteAddr().String() {
				t.Fatalf("server sees %s -> %s, client %s -> %s", s.remote, s.local, c.LocalAddr(), c.RemoteAddr())
			}
			if s.nodelay != 1 || s.keep != 1 {
				t.Fatalf("TCP_NODELAY %d, SO_KEEPALIVE %d, want both 1", s.nodelay, s.keep)
			}
		})
	}
}

// The watchdog ticks only while handlers run: a server whose connections
// are quiet does not wake every millisecond.
func TestEpollWatchdogParksWhenQuiet(t *testing.T) {
	g := epollGoer("127.0.0.1:0")
	g.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(d, false) }
	eng := startEpoll(t, g)
	c, err := net.DialTimeout("tcp", g.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echo := func() {
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
	}
	parked := func() bool {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if eng.parked.Load() {
				return true
			}
		}
		return false
	}
	echo()
	if !parked() {
		t.Fatal("the watchdog still ticks on a quiet server")
	}
	echo() // a handler runs: the watchdog wakes ...
	if eng.parked.Load() {
		t.Fatal("the watchdog stayed parked while a handler ran")
	}
	if !parked() { // ... and parks again
		t.Fatal("the watchdog did not park again")
	}
}

// Handlers that block on every message (a database call) switch the engine
// to workers after a couple of handovers, rather than stall a loop at every
// call; and they are served concurrently there.
func TestEpollBlockingHandlersOffload(t *testing.T) {
	// Each call blocks past starvedLimit: on a machine whose other work
	// keeps threads waiting for a CPU the watchdog waits that long before
	// it hands a loop over.
	const conns, rounds, block = 16, 8, starvedLimit + 5*time.Millisecond
	g := epollGoer("127.0.0.1:0")
	g.OnMessage = func(c core.Connection, d []byte) {
		time.Sleep(block)
		c.SendBytes(d, false)
	}
	eng := startEpoll(t, g)
	// The engine leaves workers offloadHold after the last handover: on a
	// slow machine that can be before the clients are done, so whether it
	// switched is watched while they run.
	var switched atomic.Bool
	done := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			if eng.offloading() {
				switched.Store(true)
			}
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	begin := time.Now()
	_, err := echoClients(g.Addr().String(), conns, 1, rounds, 0)
	close(done)
	<-watched
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(begin)
	// One at a time per loop, 128 calls of 25 ms would take 1.6 s or more.
	if n := eng.handoffs.Load(); n > conns*rounds/4 {
		t.Fatalf("%d handovers for %d blocking calls: the loops did not hand the calls to workers", n, conns*rounds)
	}
	if !switched.Load() {
		t.Fatal("not offloading while handlers block")
	}
	t.Logf("%d blocking calls in %v, %d handovers", conns*rounds, took, eng.handoffs.Load())
}

// A peer that floods a connection whose handler blocks, then resets it:
// the hang-up, which epoll reports even while the connection is not being
// read, must not make the loop read what the kernel still holds beyond the
// read-ahead bound.
func TestEpollResetAfterFloodWhileHandlerBlocks(t *testing.T) {
	release := make(chan struct{})
	var first sync.Once
	g := epollGoer("127.0.0.1:0")
	g.OnMessage = func(c core.Connection, d []byte) { first.Do(func() { <-release }) }
	startEpoll(t, g)
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	c, err := net.DialTimeout("tcp", g.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	chunk := make([]byte, 64<<10)
	for sent := 0; sent < 32<<20; sent += len(chunk) {
		if _, err := c.Write(chunk); err != nil {
			break // the server stopped reading and the kernels are full
		}
	}
	c.(*net.TCPConn).SetLinger(0)
	c.Close() // a reset: the server's socket hangs up with bytes unread
	time.Sleep(300 * time.Millisecond)
	var held int
	g.Connections.Range(func(_ int, tc *core.TCPConnection) bool {
		ec := tc.Socket().(*econn)
		ec.mu.Lock()
		if ec.pending != nil {
			held = len(ec.pending.b)
		}
		ec.mu.Unlock()
		return true
	})
	t.Logf("%d KiB read ahead", held>>10)
	if held > readAheadSize {
		t.Fatalf("%d KiB read ahead of a blocked handler after the peer reset", held>>10)
	}
	// Once the handler returns, the rest is read and the connection ends.
	released = true
	close(release)
	for deadline := time.Now().Add(5 * time.Second); g.Connections.Len() > 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the reset connection never closed after its handler returned")
		}
	}
}

// hog runs n processes that spin until the returned function is called
// (or the test process dies): threads then wait for a CPU.
func hog(t *testing.T, n int) (stop func()) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to spin with:", err)
	}
	var cmds []*exec.Cmd
	stop = func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
		cmds = nil
	}
	for i := 0; i < n; i++ {
		c := exec.Command(sh, "-c", "while :; do :; done")
		c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := c.Start(); err != nil {
			stop()
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	t.Cleanup(stop)
	return stop
}

// skipUnlessStarvationShows skips a test that starves this process of
// CPUs where the machine-wide runnable count cannot show it: the process
// may use fewer CPUs than are online (an affinity mask, a CFS quota).
func skipUnlessStarvationShows(t *testing.T, st *starvation) {
	t.Helper()
	if n := runtime.NumCPU(); n != st.cpus {
		t.Skipf("this process may use %d of the %d CPUs online: the machine's runnable count does not show it starving", n, st.cpus)
	}
	for _, f := range []string{"/sys/fs/cgroup/cpu.max", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		q := strings.Fields(string(b))
		if len(q) > 0 && q[0] != "max" && q[0] != "-1" {
			t.Skipf("a CPU quota (%s: %s) limits this process: the machine's runnable count does not show it starving", f, strings.TrimSpace(string(b)))
		}
	}
}

// starvation reads the kernel's count of runnable threads: on a machine
// with more spinning threads than CPUs some thread waits.
func TestStarvation(t *testing.T) {
	if n, ok := parseLoadavg([]byte("0.52 0.58 0.59 3/467 12345\n")); !ok || n != 3 {
		t.Fatalf("parseLoadavg: %d, %v", n, ok)
	}
	for _, bad := range []string{"", "0.52 0.58 0.59", "0.52 0.58 0.59 x/467 1", "0.52 0.58 0.59 3 1"} {
		if _, ok := parseLoadavg([]byte(bad)); ok {
			t.Fatalf("parseLoadavg(%q) accepted", bad)
		}
	}
	for in, want := range map[string]int{"0\n": 1, "0-1\n": 2, "0-3,8-11\n": 8, "0,2,4": 3} {
		if n, ok := parseCPUList([]byte(in)); !ok || n != want {
			t.Fatalf("parseCPUList(%q) = %d, %v; want %d", in, n, ok, want)
		}
	}
	for _, bad := range []string{"", "x", "3-1", "0-"} {
		if _, ok := parseCPUList([]byte(bad)); ok {
			t.Fatalf("parseCPUList(%q) accepted", bad)
		}
	}
	st := newStarvation()
	if st.broken {
		t.Skip("no /proc/loadavg here")
	}
	skipUnlessStarvationShows(t, st)
	hog(t, st.cpus+2)
	starved := false
	for try := 0; try < 100 && !starved; try++ {
		starved = st.starved()
		time.Sleep(time.Millisecond)
	}
	if !starved {
		t.Fatalf("%d spinning threads on %d CPUs: never starved", st.cpus+2, st.cpus)
	}
}

// A loop whose thread waits for a CPU is not handed over: on a starved
// process quick handlers stay on their loops and the engine does not
// switch to workers.
func TestEpollStarvedLoopStays(t *testing.T) {
	st := newStarvation()
	if st.broken {
		t.Skip("no /proc/loadavg here")
	}
	skipUnlessStarvationShows(t, st)
	// The engine gives a starved loop up to starvedLimit: a machine whose
	// other work already keeps many threads waiting for a CPU may hold a
	// loop's thread longer than that, and then handing it over is right.
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			if load, err := strconv.ParseFloat(f[0], 64); err == nil && load > float64(2*st.cpus) {
				t.Skipf("load average %.1f on %d CPUs before the test: the machine alone may starve a loop past starvedLimit", load, st.cpus)
			}
		}
	}
	g := epollGoer("127.0.0.1:0")
	g.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(d, false) }
	eng := startEpoll(t, g)
	stop := hog(t, runtime.NumCPU())
	msgs, err := echoClients(g.Addr().String(), 8, 64, 0, time.Second)
	if err != nil {
		stop()
		t.Fatal(err)
	}
	stop()
	t.Logf("%d messages, %d handovers", msgs, eng.handoffs.Load())
	if eng.offloading() {
		t.Fatalf("the engine switched to workers (%d handovers) for handlers that never block", eng.handoffs.Load())
	}
}

// Every idle connection on the epoll engine costs its econn: it stays
// within 128 bytes, a size class of Go's allocator.
func TestEconnSize(t *testing.T) {
	if s := unsafe.Sizeof(econn{}); s > 128 {
		t.Fatalf("econn is %d bytes; keep it within 128", s)
	}
}

// The descriptor table grows to any descriptor, and clear empties a slot
// only while it holds the connection that is closing: the number may have
// gone to a newer connection. Loops use it concurrently.
func TestFDTable(t *testing.T) {
	var tab fdTable
	if tab.get(5) != nil || tab.get(-1) != nil {
		t.Fatal("an empty table found a connection")
	}
	old, newer := &econn{}, &econn{}
	tab.set(3*fdPageSize+7, old)
	if tab.get(3*fdPageSize+7) != old || tab.get(7) != nil {
		t.Fatal("set/get")
	}
	tab.set(3*fdPageSize+7, newer) // the number was reused
	tab.clear(3*fdPageSize+7, old) // the old connection's late clear
	if tab.get(3*fdPageSize+7) != newer {
		t.Fatal("a stale clear removed the newer connection")
	}
	tab.clear(3*fdPageSize+7, newer)
	if tab.get(3*fdPageSize+7) != nil {
		t.Fatal("clear left the connection")
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for fd := w; fd < 20*fdPageSize; fd += 4 {
				c := &econn{}
				tab.set(fd, c)
				if tab.get(fd) != c {
					t.Errorf("fd %d: lost while the table grew", fd)
					return
				}
				tab.clear(fd, c)
			}
		}()
	}
	wg.Wait()
}

// A connection whose peer does not read keeps its queue in core, and the
// loop writes it when EPOLLOUT comes: no goroutine waits per connection
// that a slow peer holds back. Everything still arrives once the peers
// read.
func TestEpollBackpressureHoldsNoGoroutine(t *testing.T) {
	const conns, chunk = 20, 64 << 10
	type held struct {
		c    *core.TCPConnection
		sent int
	}
	queued := make(chan held, conns)
	g := epollGoer("127.0.0.1:0")
	g.MaxSendBufferSize = 64 << 20
	g.OnMessage = func(c core.Connection, _ []byte) {
		tc := c.(*core.TCPConnection)
		b := make([]byte, chunk)
		sent := 0
		for i := 0; i < 512 && tc.SendQueueSize() == 0; i++ { // until the kernel is full
			if err := tc.SendBytes(b, false); err != nil {
				break
			}
			sent += chunk
		}
		queued <- held{tc, sent}
	}
	startEpoll(t, g)
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		// A small window, so that the kernel fills up after a few chunks.
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10) })
	}}
	clients := make([]net.Conn, conns)
	for i := range clients {
		c, err := d.Dial("tcp", g.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
		if _, err := c.Write([]byte("go")); err != nil {
			t.Fatal(err)
		}
	}
	sent := map[string]int{} // by the client's address
	for range clients {
		select {
		case h := <-queued:
			if h.c.SendQueueSize() == 0 {
				t.Fatalf("the kernel took all %d bytes: no backpressure to test", h.sent)
			}
			sent[h.c.GetRemoteAddress()] = h.sent
		case <-time.After(10 * time.Second):
			t.Fatal("handlers did not run")
		}
	}
	time.Sleep(50 * time.Millisecond)
	buf := make([]byte, 4<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	if n := strings.Count(stacks, "(*TCPConnection).flush("); n > 0 {
		t.Fatalf("%d flusher goroutines wait for %d connections held back by their peers", n, conns)
	}
	for _, c := range clients {
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		want := sent[c.LocalAddr().String()]
		if n, err := io.CopyN(io.Discard, c, int64(want)); err != nil {
			t.Fatalf("read %d of %d bytes: %v", n, want, err)
		}
	}
}

// echoClients runs conns clients against an echo server at addr, each
// sending size bytes and reading them back, rounds times or (rounds 0) for
// d. It returns the exchanges done and the first failure.
func echoClients(addr string, conns, size, rounds int, d time.Duration) (int64, error) {
	errs := make(chan error, conns)
	var done atomic.Int64
	for i := 0; i < conns; i++ {
		go func() {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			b := make([]byte, size)
			end := time.Now().Add(d)
			for r := 0; rounds == 0 && time.Now().Before(end) || r < rounds; r++ {
				if _, err := c.Write(b); err != nil {
					errs <- err
					return
				}
				if _, err := io.ReadFull(c, b); err != nil {
					errs <- err
					return
				}
				done.Add(1)
			}
			errs <- nil
		}()
	}
	var first error
	for i := 0; i < conns; i++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return done.Load(), first
}

// epollGoer is a quiet Goer on the epoll engine, listening on addr.
func epollGoer(addr string) *core.Goer {
	g := core.NewGoer(addr, nil, "tcp")
	g.Engine = "epoll"
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	return g
}

// startEpoll starts g, stops it when the test ends (after its clients
// close), and returns its engine.
func startEpoll(t *testing.T, g *core.Goer) *epollEngine {
	t.Helper()
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Stop() })
	return g.Listener().(*listener).epoll
}
