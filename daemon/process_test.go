//go:build unix

package daemon

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The process tests build internal/testserver in several versions and drive
// the binaries with the commands, as a user would.

var (
	binDir   string
	binOnce  sync.Once
	binErr   error
	binPaths = map[string]string{}
)

// builds are the test server's variants, by name: -ldflags for each.
var builds = map[string]string{
	"v1":    "-X main.version=v1",
	"v2":    "-X main.version=v2",
	"panic": "-X main.broken=panic",
	"hang":  "-X main.broken=hang",
}

func binary(t *testing.T, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs server processes")
	}
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "goes-daemon-test-")
		if binErr != nil {
			return
		}
		for n, flags := range builds {
			// Every variant is called "testserver", as go run would name it.
			p := filepath.Join(binDir, n, "testserver")
			out, err := exec.Command("go", "build", "-ldflags", flags, "-o", p, "./internal/testserver").CombinedOutput()
			if err != nil {
				binErr = fmt.Errorf("build %s: %v\n%s", n, err, out)
				return
			}
			binPaths[n] = p
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPaths[name]
}

// runID marks, in their environment, the processes of this test binary.
var runID = fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())

// world is one test's pid file, files and environment.
type world struct {
	t       *testing.T
	dir     string
	pidFile string
	env     []string
	mark    string // an environment entry every process of this world has

	mu   sync.Mutex
	pids map[int]bool // every server pid the test has seen
}

func newWorld(t *testing.T, extraEnv ...string) *world {
	dir := t.TempDir()
	w := &world{t: t, dir: dir, pidFile: filepath.Join(dir, "s.pid"), mark: "TESTSERVER_WORLD=" + dir, pids: map[int]bool{}}
	w.env = append(os.Environ(),
		"TESTSERVER_PIDFILE="+w.pidFile,
		"TESTSERVER_ADDRFILE="+filepath.Join(dir, "addr"),
		"TESTSERVER_EVENTS="+filepath.Join(dir, "events"),
		"TESTSERVER_STDOUT="+filepath.Join(dir, "out"),
		"TESTSERVER_GRACE=5s",
		"TESTSERVER_RELOAD_TIMEOUT=5s",
		// Every process the test starts, daemons and reload children
		// included, inherits these: the test finds them by it, and they
		// exit by themselves if the test process dies.
		w.mark,
		"TESTSERVER_RUN="+runID,
		"TESTSERVER_GUARD_PID="+strconv.Itoa(os.Getpid()),
	)
	w.env = append(w.env, extraEnv...)
	t.Cleanup(w.cleanup)
	return w
}

func (w *world) remember(pid int) {
	w.mu.Lock()
	w.pids[pid] = true
	w.mu.Unlock()
}

// processes returns the live processes of this world.
func (w *world) processes() []int {
	pids, ok := processesWith(w.mark)
	if ok {
		return pids
	}
	// No /proc: the pids the test has seen. A pid may have been reused
	// since, which is why /proc is preferred.
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []int
	for pid := range w.pids {
		if processAlive(pid) {
			out = append(out, pid)
		}
	}
	if pid, ok := runningPid(w.pidFile); ok && !w.pids[pid] {
		out = append(out, pid)
	}
	return out
}

// cleanup ends every process of this world, however the test ended. Each
// test stops its servers itself; one still running a few seconds later was
// left behind by the product or the test, which is an error.
func (w *world) cleanup() {
	deadline := time.Now().Add(5 * time.Second)
	left := w.processes()
	for len(left) > 0 && time.Now().Before(deadline) && !w.t.Failed() {
		time.Sleep(20 * time.Millisecond)
		left = w.processes()
	}
	if len(left) == 0 {
		return
	}
	if !w.t.Failed() {
		w.t.Errorf("processes left running: %s", describe(left))
	}
	killAll(w.t, left)
}

// processesWith returns the live processes, other than this one, whose
// environment holds the entry kv; ok is false without /proc.
func processesWith(kv string) (pids []int, ok bool) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, false
	}
	if _, err := os.Stat("/proc/self/environ"); err != nil {
		return nil, false
	}
	want := []byte(kv)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, entry := range bytes.Split(env, []byte{0}) {
			if bytes.Equal(entry, want) {
				if processAlive(pid) {
					pids = append(pids, pid)
				}
				break
			}
		}
	}
	return pids, true
}

// describe lists pids with their command lines.
func describe(pids []int) string {
	var b strings.Builder
	for _, pid := range pids {
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		fmt.Fprintf(&b, "\n  pid %d: %s", pid, bytes.ReplaceAll(bytes.TrimRight(cmd, "\x00"), []byte{0}, []byte{' '}))
	}
	return b.String()
}

// killAll kills pids, and the process groups they lead, and waits (at
// most 10 seconds) until they are gone.
func killAll(t *testing.T, pids []int) {
	for _, pid := range pids {
		if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
		syscall.Kill(pid, syscall.SIGKILL)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, pid := range pids {
		for processAlive(pid) {
			if time.Now().After(deadline) {
				t.Errorf("pid %d still running 10s after SIGKILL", pid)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs bin with args and waits for it, at most 30 seconds.
func (w *world) run(bin string, args ...string) result {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = w.env
	cmd.Dir = w.dir
	// Wait must not wait on output pipes a leftover process holds.
	cmd.WaitDelay = 5 * time.Second
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok || ctx.Err() != nil {
			w.t.Fatalf("%s %v: %v (stderr %q)", bin, args, err, errOut.String())
		}
		code = ee.ExitCode()
	}
	return result{out.String(), errOut.String(), code}
}

// must runs a command that has to succeed.
func (w *world) must(bin string, args ...string) result {
	w.t.Helper()
	r := w.run(bin, args...)
	if r.code != 0 {
		out, _ := os.ReadFile(filepath.Join(w.dir, "out"))
		if len(out) > 4096 {
			out = out[len(out)-4096:]
		}
		w.t.Fatalf("%v: exit %d\nstdout: %s\nstderr: %s\ndaemon output (end): %s", args, r.code, r.stdout, r.stderr, out)
	}
	return r
}

func (w *world) pid() int {
	w.t.Helper()
	pid, err := readPid(w.pidFile)
	if err != nil {
		w.t.Fatal(err)
	}
	w.remember(pid)
	return pid
}

func (w *world) addr() string {
	w.t.Helper()
	b, err := os.ReadFile(filepath.Join(w.dir, "addr"))
	if err != nil {
		w.t.Fatal(err)
	}
	return string(b)
}

func (w *world) events() string {
	b, _ := os.ReadFile(filepath.Join(w.dir, "events"))
	return string(b)
}

// client is one connection to the test server.
type client struct {
	c net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{c, bufio.NewReader(c)}
}

// ask sends line and returns the server's version and pid from the reply.
func (c *client) ask(line string) (version string, pid int, err error) {
	c.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c.c, "%s\n", line); err != nil {
		return "", 0, err
	}
	reply, err := c.r.ReadString('\n')
	if err != nil {
		return "", 0, err
	}
	f := strings.SplitN(strings.TrimSuffix(reply, "\n"), " ", 3)
	if len(f) != 3 || f[2] != line {
		return "", 0, fmt.Errorf("bad reply %q to %q", reply, line)
	}
	pid, err = strconv.Atoi(f[1])
	return f[0], pid, err
}

func mustAsk(t *testing.T, c *client, line string) (string, int) {
	t.Helper()
	v, pid, err := c.ask(line)
	if err != nil {
		t.Fatal(err)
	}
	return v, pid
}

func waitGone(t *testing.T, pid int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still running after %v", pid, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProcessDaemonRoundTrip(t *testing.T) {
	v1 := binary(t, "v1")
	w := newWorld(t)
	r := w.must(v1, "start", "-d")
	pid := w.pid()
	if !strings.Contains(r.stdout, "started as a daemon, pid "+strconv.Itoa(pid)) || !strings.Contains(r.stdout, "mode: daemon") {
		t.Errorf("start -d output:\n%s", r.stdout)
	}
	if os.Getpid() == pid || !processAlive(pid) {
		t.Fatalf("daemon pid %d not running", pid)
	}

	c := dial(t, w.addr())
	for i := 0; i < 3; i++ {
		if v, p := mustAsk(t, c, "hello"); v != "v1" || p != pid {
			t.Fatalf("reply from %s %d, want v1 %d", v, p, pid)
		}
	}

	r = w.must(v1, "status")
	for _, want := range []string{"GOES STATUS", "goes version: v1", "mode: daemon", "tcp://" + w.addr(), strconv.Itoa(pid), "load average:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, r.stdout)
		}
	}
	// One connection, three requests, in the Goer's row.
	if !regexpRow(r.stdout, "echo", "1", "0", "0", "3") {
		t.Errorf("status row for echo does not show 1 connection and 3 requests:\n%s", r.stdout)
	}

	r = w.must(v1, "connections")
	if !strings.Contains(r.stdout, c.c.LocalAddr().String()) || !strings.Contains(r.stdout, "1 connections") {
		t.Errorf("connections:\n%s", r.stdout)
	}

	r = w.must(v1, "status", "-d", "-n", "2")
	if n := strings.Count(r.stdout, "GOES STATUS"); n != 2 {
		t.Errorf("status -d -n 2 printed %d screens", n)
	}

	c.c.Close()
	r = w.must(v1, "stop")
	if !strings.Contains(r.stdout, "stopped (pid "+strconv.Itoa(pid)) {
		t.Errorf("stop output: %q %q", r.stdout, r.stderr)
	}
	waitGone(t, pid, 5*time.Second)
	if _, err := os.Stat(w.pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left: %v", err)
	}
	if _, err := net.DialTimeout("tcp", w.addr(), time.Second); err == nil {
		t.Error("still accepting after stop")
	}
	if !strings.Contains(w.events(), fmt.Sprintf("stop %d graceful=false", pid)) {
		t.Errorf("events: %q", w.events())
	}

	r = w.run(v1, "stop")
	if r.code != ExitNotRunning || !strings.Contains(r.stderr, "not running") {
		t.Errorf("second stop: exit %d, %q", r.code, r.stderr)
	}
}

// regexpRow tells whether some line has the fields in order, name first.
func regexpRow(out string, name string, fields ...string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		for i := range f {
			if f[i] != name || i+1+len(fields) > len(f) {
				continue
			}
			if strings.Join(f[i+1:i+1+len(fields)], " ") == strings.Join(fields, " ") {
				return true
			}
		}
	}
	return false
}

func TestProcessDoubleStartAndStale(t *testing.T) {
	v1 := binary(t, "v1")
	w := newWorld(t)
	// A stale pid file: its process is gone.
	if err := os.WriteFile(w.pidFile, []byte(strconv.Itoa(deadPid(t))), 0o644); err != nil {
		t.Fatal(err)
	}
	w.must(v1, "start", "-d", "-q")
	pid := w.pid()
	r := w.run(v1, "start", "-d")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "already running (pid "+strconv.Itoa(pid)) {
		t.Errorf("second start: exit %d, stderr %q", r.code, r.stderr)
	}
	r = w.run(v1, "start")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "already running") {
		t.Errorf("second foreground start: exit %d, stderr %q", r.code, r.stderr)
	}
	if w.pid() != pid || !processAlive(pid) {
		t.Fatal("the running server was disturbed")
	}
	w.must(v1, "restart", "-d", "-q")
	if w.pid() == pid {
		t.Error("restart kept the old process")
	}
	waitGone(t, pid, 5*time.Second)
	w.must(v1, "stop", "-g")
}

func TestProcessStartFailureIsReported(t *testing.T) {
	v1 := binary(t, "v1")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	w := newWorld(t, "TESTSERVER_ADDR="+busy.Addr().String())
	r := w.run(v1, "start", "-d")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "address already in use") {
		t.Errorf("start -d on a busy port: exit %d, stderr %q", r.code, r.stderr)
	}
	if _, err := os.Stat(w.pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file written: %v", err)
	}
}

// fgProc is a server started in the foreground by the test.
type fgProc struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

// startForeground runs start in the foreground as a child of the test.
func (w *world) startForeground(bin string) *fgProc {
	w.t.Helper()
	out, err := os.Create(filepath.Join(w.dir, "fg.log"))
	if err != nil {
		w.t.Fatal(err)
	}
	defer out.Close()
	p := &fgProc{cmd: exec.Command(bin, "start"), exited: make(chan struct{})}
	p.cmd.Env, p.cmd.Dir, p.cmd.Stdout, p.cmd.Stderr = w.env, w.dir, out, out
	// Its own process group, as a shell's job: the successors a reload
	// starts in the foreground join it.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	w.remember(p.cmd.Process.Pid)
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	w.t.Cleanup(func() {
		select {
		case <-p.exited:
			return
		default:
		}
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		p.cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			w.t.Errorf("foreground server pid %d did not exit within 10s of SIGKILL", p.cmd.Process.Pid)
		}
	})
	waitFor(w.t, "foreground server", func() bool {
		resp, err := call(w.pidFile, request{Cmd: "ping"}, time.Second)
		return err == nil && resp.Pid == p.cmd.Process.Pid
	})
	return p
}

func (p *fgProc) waitExit(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(within):
		t.Fatalf("process did not exit within %v", within)
		return nil
	}
}

func TestProcessForegroundSignals(t *testing.T) {
	v1 := binary(t, "v1")
	tests := []struct {
		sig      syscall.Signal
		graceful bool
	}{
		{syscall.SIGINT, false},
		{syscall.SIGTERM, false},
		{syscall.SIGQUIT, true},
	}
	for _, tt := range tests {
		t.Run(tt.sig.String(), func(t *testing.T) {
			w := newWorld(t)
			p := w.startForeground(v1)
			cmd := p.cmd
			c := dial(t, w.addr())
			mustAsk(t, c, "before")
			if tt.graceful {
				// A graceful stop waits for this connection, which still works.
				cmd.Process.Signal(tt.sig)
				time.Sleep(200 * time.Millisecond)
				if _, _, err := c.ask("during"); err != nil {
					t.Errorf("connection broken during graceful stop: %v", err)
				}
				c.c.Close()
			} else {
				cmd.Process.Signal(tt.sig)
			}
			if err := p.waitExit(t, 10*time.Second); err != nil {
				t.Fatalf("exit: %v", err)
			}
			want := fmt.Sprintf("stop %d graceful=%v", cmd.Process.Pid, tt.graceful)
			if !strings.Contains(w.events(), want) {
				t.Errorf("events %q, want %q", w.events(), want)
			}
			if _, err := os.Stat(w.pidFile); !os.IsNotExist(err) {
				t.Errorf("pid file left: %v", err)
			}
		})
	}
}

func TestProcessStopGraceful(t *testing.T) {
	v1 := binary(t, "v1")
	w := newWorld(t)
	w.must(v1, "start", "-d", "-q")
	pid := w.pid()
	c := dial(t, w.addr())
	mustAsk(t, c, "x")
	stopped := make(chan result, 1)
	go func() { stopped <- w.run(v1, "stop", "-g") }()
	// The open connection keeps being served until it closes.
	time.Sleep(300 * time.Millisecond)
	if v, p := mustAsk(t, c, "still"); v != "v1" || p != pid {
		t.Errorf("reply from %s %d", v, p)
	}
	select {
	case r := <-stopped:
		t.Fatalf("stop -g returned before the connection closed: %+v", r)
	default:
	}
	c.c.Close()
	select {
	case r := <-stopped:
		if r.code != 0 {
			t.Fatalf("stop -g: %+v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("stop -g did not return")
	}
	waitGone(t, pid, 5*time.Second)
	if !strings.Contains(w.events(), fmt.Sprintf("stop %d graceful=true", pid)) {
		t.Errorf("events: %q", w.events())
	}
}

func TestProcessReloadNewBinary(t *testing.T) {
	v1, v2 := binary(t, "v1"), binary(t, "v2")
	w := newWorld(t)
	w.must(v1, "start", "-d", "-q")
	oldPid := w.pid()
	old := dial(t, w.addr())
	if v, _ := mustAsk(t, old, "a"); v != "v1" {
		t.Fatalf("version %s", v)
	}
	r := w.must(v2, "reload")
	newPid := w.pid()
	if newPid == oldPid || !strings.Contains(r.stdout, fmt.Sprintf("pid %d replaced by pid %d", oldPid, newPid)) {
		t.Fatalf("reload output %q, pid %d -> %d", r.stdout, oldPid, newPid)
	}
	// New connections get the new code; the old one stays with the old
	// process until it closes.
	if v, p := mustAsk(t, dial(t, w.addr()), "b"); v != "v2" || p != newPid {
		t.Errorf("new connection answered by %s %d, want v2 %d", v, p, newPid)
	}
	if v, p := mustAsk(t, old, "c"); v != "v1" || p != oldPid {
		t.Errorf("old connection answered by %s %d, want v1 %d", v, p, oldPid)
	}
	old.c.Close()
	waitGone(t, oldPid, 10*time.Second)
	ev := w.events()
	if !strings.Contains(ev, fmt.Sprintf("reload %d\nstop %d graceful=true", oldPid, oldPid)) {
		t.Errorf("events: %q", ev)
	}
	r = w.must(v2, "status")
	if !strings.Contains(r.stdout, "goes version: v2") || !strings.Contains(r.stdout, "mode: daemon") {
		t.Errorf("status after reload:\n%s", r.stdout)
	}
	w.must(v1, "stop")
	waitGone(t, newPid, 5*time.Second)
}

func TestProcessReloadFailureKeepsOld(t *testing.T) {
	v1 := binary(t, "v1")
	tests := []struct {
		build, want string
	}{
		{"panic", "broken on purpose"},
		{"hang", "was not ready within"},
	}
	for _, tt := range tests {
		t.Run(tt.build, func(t *testing.T) {
			bad := binary(t, tt.build)
			w := newWorld(t)
			w.must(v1, "start", "-d", "-q")
			pid := w.pid()
			c := dial(t, w.addr())
			mustAsk(t, c, "before")
			r := w.run(bad, "reload")
			if r.code != ExitFailure || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "keeps serving") {
				t.Errorf("reload: exit %d, stderr %q", r.code, r.stderr)
			}
			if tt.build == "hang" && !strings.Contains(r.stderr, "hangs on purpose") {
				t.Errorf("reload did not show the new process's output: %q", r.stderr)
			}
			if w.pid() != pid {
				t.Errorf("pid file names %d, want %d", w.pid(), pid)
			}
			if v, p := mustAsk(t, c, "after"); v != "v1" || p != pid {
				t.Errorf("old connection answered by %s %d", v, p)
			}
			fresh := dial(t, w.addr())
			if v, p := mustAsk(t, fresh, "new"); v != "v1" || p != pid {
				t.Errorf("new connection answered by %s %d", v, p)
			}
			if strings.Contains(w.events(), "reload") {
				t.Errorf("OnReload ran: %q", w.events())
			}
			// The server still reloads afterwards, and the old process
			// then ends once its connections have closed.
			w.must(v1, "reload")
			newPid := w.pid()
			if newPid == pid {
				t.Error("reload after a failed one did not replace the process")
			}
			c.c.Close()
			fresh.c.Close()
			waitGone(t, pid, 10*time.Second)
			w.must(v1, "stop")
			waitGone(t, newPid, 10*time.Second)
		})
	}
}

func TestProcessReloadForeground(t *testing.T) {
	for _, stopBySignal := range []bool{false, true} {
		t.Run(fmt.Sprintf("stop by signal=%v", stopBySignal), func(t *testing.T) {
			testReloadForeground(t, stopBySignal)
		})
	}
}

func testReloadForeground(t *testing.T, stopBySignal bool) {
	v1, v2 := binary(t, "v1"), binary(t, "v2")
	w := newWorld(t)
	p := w.startForeground(v1)
	cmd := p.cmd
	w.must(v2, "reload")
	newPid := w.pid()
	if newPid == cmd.Process.Pid {
		t.Fatal("pid file still names the old process")
	}
	x := dial(t, w.addr())
	if v, p := mustAsk(t, x, "x"); v != "v2" || p != newPid {
		t.Errorf("answered by %s %d", v, p)
	}
	// The old process waits for its successor, keeping the terminal.
	select {
	case <-p.exited:
		t.Fatalf("old foreground process exited: %v", p.err)
	case <-time.After(200 * time.Millisecond):
	}
	// A reload by signal, with the running binary.
	syscall.Kill(newPid, syscall.SIGUSR1)
	waitFor(t, "reload by SIGUSR1", func() bool { p, err := readPid(w.pidFile); return err == nil && p != newPid })
	y := dial(t, w.addr())
	if v, _ := mustAsk(t, y, "y"); v != "v2" {
		t.Errorf("SIGUSR1 reload changed the version to %s", v)
	}
	newest := w.pid()
	// newPid still finishes connection x, which keeps it in its graceful
	// stop while the server is stopped.
	if stopBySignal {
		// kill PID of the process the shell started reaches the server
		// that runs now, through the chain of predecessors.
		cmd.Process.Signal(syscall.SIGTERM)
		waitGone(t, newest, 10*time.Second)
	} else {
		w.must(v1, "stop")
	}
	x.c.Close()
	y.c.Close()
	if err := p.waitExit(t, 10*time.Second); err != nil {
		t.Errorf("foreground process: %v", err)
	}
	waitGone(t, newPid, 10*time.Second)
	waitGone(t, newest, 10*time.Second)
	if !strings.Contains(w.events(), fmt.Sprintf("stop %d graceful=false", newest)) {
		t.Errorf("events: %q", w.events())
	}
	log, _ := os.ReadFile(filepath.Join(w.dir, "fg.log"))
	if !strings.Contains(string(log), "started in the foreground") {
		t.Errorf("foreground log:\n%s", log)
	}
}

// TestProcessReloadUnderLoad reloads five times while 50 clients do
// request/response: no request may fail and no connection may be refused.
func TestProcessReloadUnderLoad(t *testing.T) {
	bins := []string{binary(t, "v1"), binary(t, "v2")}
	w := newWorld(t)
	w.must(bins[0], "start", "-d", "-q")
	addr := w.addr()

	const clients = 50
	var (
		stop     atomic.Bool
		requests atomic.Int64
		conns    atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string
		versions = map[string]int{}
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
	}
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for n := 0; !stop.Load() && time.Now().Before(deadline) && n < 10000; n++ {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					fail("client %d: dial: %v", i, err)
					return
				}
				conns.Add(1)
				cl := &client{c, bufio.NewReader(c)}
				connPid := 0
				for k := 0; k < 5; k++ {
					line := fmt.Sprintf("c%d-%d-%d", i, n, k)
					v, pid, err := cl.ask(line)
					if err != nil {
						fail("client %d: %s: %v", i, line, err)
						c.Close()
						return
					}
					if connPid == 0 {
						connPid = pid
					} else if pid != connPid {
						fail("client %d: connection moved from pid %d to %d", i, connPid, pid)
					}
					requests.Add(1)
					mu.Lock()
					versions[v]++
					mu.Unlock()
					time.Sleep(time.Millisecond)
				}
				c.Close()
			}
		}(i)
	}

	pids := []int{w.pid()}
	time.Sleep(300 * time.Millisecond)
	for i := 1; i <= 5; i++ {
		r := w.run(bins[i%2], "reload")
		if r.code != 0 {
			t.Errorf("reload %d: exit %d: %s", i, r.code, r.stderr)
			break
		}
		pids = append(pids, w.pid())
		time.Sleep(300 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()

	for _, f := range failures {
		t.Error(f)
	}
	t.Logf("%d requests over %d connections; versions %v; pids %v", requests.Load(), conns.Load(), versions, pids)
	if versions["v1"] == 0 || versions["v2"] == 0 {
		t.Errorf("replies by version %v, want both", versions)
	}
	if requests.Load() < clients*5 {
		t.Errorf("only %d requests", requests.Load())
	}
	w.must(bins[0], "stop")
	for _, pid := range pids {
		waitGone(t, pid, 10*time.Second)
	}
}

// TestProcessStopNeverIgnoresSignals: a server whose Stop never returns must
// not leave a process behind that ignores every signal. SIGTERM during the
// stop ends it at once; without one it ends after the stop timeout.
func TestProcessStopNeverIgnoresSignals(t *testing.T) {
	v1 := binary(t, "v1")
	tests := []struct {
		name          string
		first, second syscall.Signal // second: sent once the stop began; 0 none
		within        time.Duration
		log           string
	}{
		// A graceful stop that would wait a minute, and then hangs.
		{"SIGTERM while stopping", syscall.SIGQUIT, syscall.SIGTERM, 3 * time.Second, "terminated while stopping"},
		// A stop that hangs ends after the stop timeout (1s here).
		{"stop timeout", syscall.SIGTERM, 0, 8 * time.Second, "did not stop within 1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t, "TESTSERVER_STOP_HANG=1", "TESTSERVER_STOP_TIMEOUT=1s", "TESTSERVER_GRACE=60s")
			w.must(v1, "start", "-d", "-q")
			pid := w.pid()
			syscall.Kill(pid, tt.first)
			waitFor(t, "the stop to begin", func() bool { return strings.Contains(w.events(), "stop") })
			if tt.second != 0 {
				syscall.Kill(pid, tt.second)
			}
			waitGone(t, pid, tt.within)
			out, _ := os.ReadFile(filepath.Join(w.dir, "out"))
			if !strings.Contains(string(out), tt.log) {
				t.Errorf("output lacks %q:\n%s", tt.log, out)
			}
		})
	}
}

// TestProcessDaemonDropsInheritedDescriptors: start -d must not hand the
// daemon descriptors it inherited, such as a pipe whose reader waits for
// its end (a CI runner, ssh, a shell's command substitution).
func TestProcessDaemonDropsInheritedDescriptors(t *testing.T) {
	v1 := binary(t, "v1")
	w := newWorld(t)
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, v1, "start", "-d", "-q")
	cmd.Env, cmd.Dir = w.env, w.dir
	cmd.ExtraFiles = []*os.File{wr} // descriptor 3, inherited as a caller's would be
	out, err := cmd.CombinedOutput()
	wr.Close()
	if err != nil {
		t.Fatalf("start -d: %v\n%s", err, out)
	}
	pid := w.pid()
	r.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.Read(make([]byte, 1)); os.IsTimeout(err) {
		t.Errorf("the daemon (pid %d) holds the pipe it inherited from start -d", pid)
	} else if err != io.EOF {
		t.Errorf("read: %v, want EOF", err)
	}
	w.must(v1, "stop")
	waitGone(t, pid, 10*time.Second)
}

// TestProcessStopDuringReload: a stop signal while a reload waits for a new
// process that never gets ready is obeyed at once, and the new process is
// killed with it.
func TestProcessStopDuringReload(t *testing.T) {
	v1, hang := binary(t, "v1"), binary(t, "hang")
	w := newWorld(t, "TESTSERVER_RELOAD_TIMEOUT=60s")
	w.must(v1, "start", "-d", "-q")
	pid := w.pid()
	reloaded := make(chan result, 1)
	go func() { reloaded <- w.run(hang, "reload") }()
	// The new process reports on the old one's output that it hangs.
	waitFor(t, "the new process to start", func() bool {
		out, _ := os.ReadFile(filepath.Join(w.dir, "out"))
		return strings.Contains(string(out), "hangs on purpose")
	})
	syscall.Kill(pid, syscall.SIGTERM)
	waitGone(t, pid, 5*time.Second)
	select {
	case r := <-reloaded:
		if r.code != ExitFailure || !strings.Contains(r.stderr, "was abandoned") {
			t.Errorf("reload: exit %d, stderr %q", r.code, r.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reload did not return")
	}
	if left := w.processes(); len(left) > 0 {
		t.Errorf("left running:%s", describe(left))
	}
	if !strings.Contains(w.events(), fmt.Sprintf("stop %d graceful=false", pid)) {
		t.Errorf("events: %q", w.events())
	}
}
