//go:build unix

package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	godaemon "github.com/sevlyar/go-daemon"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		// Every test ends its processes; this catches what a test that
		// ended abnormally could not.
		if left, _ := processesWith("TESTSERVER_RUN=" + runID); len(left) > 0 {
			fmt.Fprintf(os.Stderr, "test server processes left running, killed:%s\n", describe(left))
			for _, pid := range left {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			if code == 0 {
				code = 1
			}
		}
		if binDir != "" {
			os.RemoveAll(binDir)
		}
		os.Exit(code)
	}))
}

// fakeServer records the hooks' calls and serves a real loopback listener.
type fakeServer struct {
	mu       sync.Mutex
	calls    []string
	ln       net.Listener
	graceful bool
}

func (f *fakeServer) record(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *fakeServer) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeServer) hooks() Hooks {
	return Hooks{
		Listen: func(inherited map[string]*os.File) error {
			f.record("listen")
			var err error
			f.ln, err = net.Listen("tcp", "127.0.0.1:0")
			return err
		},
		Serve: func() error { f.record("serve"); return nil },
		Stop: func(graceful bool, timeout time.Duration) {
			f.record("stop graceful=" + strconv.FormatBool(graceful))
			f.ln.Close()
		},
		Status: func() []GoerStatus {
			return []GoerStatus{{Name: "fake", Listen: "tcp://" + f.ln.Addr().String(), Transport: "tcp", Requests: 7, State: "running"}}
		},
		Connections: func() []ConnInfo {
			return []ConnInfo{{ID: 1, Goer: "fake", Transport: "tcp", Remote: "127.0.0.1:1", Local: "127.0.0.1:2", BytesRead: 10, State: "established"}}
		},
	}
}

func testConfig(t *testing.T, args ...string) (Config, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return Config{
		Name:    "prog",
		Version: "v0.0.1",
		PidFile: filepath.Join(t.TempDir(), "p.pid"),
		Args:    args,
		Stdout:  &out,
		Stderr:  &errOut,
	}, &out, &errOut
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", []string{}, "Usage: prog <command>"},
		{"unknown command", []string{"launch"}, `unknown command "launch"`},
		{"unknown flag", []string{"start", "-x"}, "flag provided but not defined"},
		{"extra argument", []string{"stop", "now"}, `unexpected argument "now"`},
		{"flag of another command", []string{"stop", "-d"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, out, errOut := testConfig(t, tt.args...)
			err := Run(cfg, (&fakeServer{}).hooks())
			if !errors.Is(err, ErrUsage) || ExitCode(err) != ExitUsage {
				t.Fatalf("err = %v (exit %d), want usage error", err, ExitCode(err))
			}
			if !strings.Contains(errOut.String(), tt.want) || !strings.Contains(errOut.String(), "Commands:") {
				t.Errorf("stderr = %q, want %q and the usage text", errOut, tt.want)
			}
			if out.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", out)
			}
		})
	}
}

// deadPid returns the pid of a process that has exited and been reaped.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestNotRunning(t *testing.T) {
	for _, cmd := range []string{"stop", "reload", "status", "connections"} {
		for _, stale := range []bool{false, true} {
			t.Run(cmd+"/stale="+strconv.FormatBool(stale), func(t *testing.T) {
				cfg, _, errOut := testConfig(t, cmd)
				want := "is not running (no process"
				if stale {
					want = "stale pid file"
					if err := os.WriteFile(cfg.PidFile, []byte(strconv.Itoa(deadPid(t))), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				err := Run(cfg, Hooks{})
				if !errors.Is(err, ErrNotRunning) || ExitCode(err) != ExitNotRunning {
					t.Fatalf("err = %v, want ErrNotRunning", err)
				}
				if !strings.Contains(errOut.String(), want) {
					t.Errorf("stderr = %q, want %q", errOut, want)
				}
				if _, err := os.Stat(cfg.PidFile); !os.IsNotExist(err) {
					t.Errorf("pid file still there: %v", err)
				}
			})
		}
	}
}

func TestMissingHooks(t *testing.T) {
	cfg, _, _ := testConfig(t, "start")
	if err := Run(cfg, Hooks{}); !errors.Is(err, ErrNotImplemented) {
		t.Fatalf("err = %v, want ErrNotImplemented", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestForegroundInProcess runs start in this process and drives it with the
// other commands over the control socket.
func TestForegroundInProcess(t *testing.T) {
	for _, graceful := range []bool{false, true} {
		t.Run("graceful="+strconv.FormatBool(graceful), func(t *testing.T) {
			cfg, out, _ := testConfig(t, "start")
			fs := &fakeServer{}
			done := make(chan error, 1)
			go func() { done <- Run(cfg, fs.hooks()) }()
			waitFor(t, "pid file", func() bool { pid, err := readPid(cfg.PidFile); return err == nil && pid == os.Getpid() })

			scfg, sout, _ := testConfig(t, "status")
			scfg.PidFile = cfg.PidFile
			if err := Run(scfg, Hooks{}); err != nil {
				t.Fatalf("status: %v", err)
			}
			for _, want := range []string{"GOES STATUS", "goes version: v0.0.1", "mode: foreground", "fake", "total_request", strconv.Itoa(os.Getpid())} {
				if !strings.Contains(sout.String(), want) {
					t.Errorf("status output lacks %q:\n%s", want, sout)
				}
			}
			ccfg, cout, _ := testConfig(t, "connections")
			ccfg.PidFile = cfg.PidFile
			if err := Run(ccfg, Hooks{}); err != nil {
				t.Fatalf("connections: %v", err)
			}
			if !strings.Contains(cout.String(), "127.0.0.1:1") || !strings.Contains(cout.String(), "1 connections") {
				t.Errorf("connections output:\n%s", cout)
			}

			args := []string{"stop"}
			if graceful {
				args = append(args, "-g")
			}
			stcfg, stout, _ := testConfig(t, args...)
			stcfg.PidFile = cfg.PidFile
			if err := Run(stcfg, Hooks{}); err != nil {
				t.Fatalf("stop: %v", err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("start returned %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("start did not return after stop")
			}
			_ = stout
			want := []string{"listen", "serve", "stop graceful=" + strconv.FormatBool(graceful)}
			if got := fs.Calls(); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("calls = %v, want %v", got, want)
			}
			for _, p := range []string{cfg.PidFile, controlPath(cfg.PidFile)} {
				if _, err := os.Stat(p); !os.IsNotExist(err) {
					t.Errorf("%s left behind: %v", p, err)
				}
			}
			if !strings.Contains(out.String(), "started in the foreground") {
				t.Errorf("start output: %q", out)
			}
		})
	}
}

func TestStartWhileRunning(t *testing.T) {
	cfg, _, errOut := testConfig(t, "start")
	// This test process stands in for the running server.
	if err := writePid(cfg.PidFile, os.Getpid()); err != nil {
		t.Fatal(err)
	}
	fs := &fakeServer{}
	err := Run(cfg, fs.hooks())
	if !errors.Is(err, ErrRunning) || ExitCode(err) != ExitFailure {
		t.Fatalf("err = %v, want ErrRunning", err)
	}
	if want := "already running (pid " + strconv.Itoa(os.Getpid()); !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr = %q, want %q", errOut, want)
	}
	if len(fs.Calls()) != 0 {
		t.Errorf("hooks called: %v", fs.Calls())
	}
}

func TestStartReplacesStalePidFile(t *testing.T) {
	cfg, _, _ := testConfig(t, "start", "-q")
	if err := os.WriteFile(cfg.PidFile, []byte(strconv.Itoa(deadPid(t))), 0o644); err != nil {
		t.Fatal(err)
	}
	fs := &fakeServer{}
	done := make(chan error, 1)
	go func() { done <- Run(cfg, fs.hooks()) }()
	waitFor(t, "pid file", func() bool { pid, err := readPid(cfg.PidFile); return err == nil && pid == os.Getpid() })
	if _, err := call(cfg.PidFile, request{Cmd: "stop"}, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestListenFailure(t *testing.T) {
	cfg, _, errOut := testConfig(t, "start")
	h := (&fakeServer{}).hooks()
	h.Listen = func(map[string]*os.File) error { return errors.New("address in use") }
	err := Run(cfg, h)
	if !errors.Is(err, ErrStartFailed) || !strings.Contains(errOut.String(), "address in use") {
		t.Fatalf("err = %v, stderr %q", err, errOut)
	}
	if _, err := os.Stat(cfg.PidFile); !os.IsNotExist(err) {
		t.Errorf("pid file written: %v", err)
	}
}

func TestDefaultPidFile(t *testing.T) {
	a, b := DefaultPidFile(), DefaultPidFile()
	if a != b {
		t.Fatalf("not stable: %q, %q", a, b)
	}
	if filepath.Dir(a) != filepath.Clean(os.TempDir()) || !strings.HasPrefix(filepath.Base(a), "goes-") || !strings.HasSuffix(a, ".pid") {
		t.Errorf("DefaultPidFile = %q", a)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chdir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	c := DefaultPidFile()
	if err := os.Chdir(wd); err != nil {
		t.Fatal(err)
	}
	if c == a {
		t.Errorf("same pid file %q for two working directories", c)
	}
}

func TestProcessAlive(t *testing.T) {
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	if !processAlive(pid) {
		t.Error("running process reported dead")
	}
	cmd.Process.Kill()
	// Until Wait reaps it, the process is a zombie: it must count as gone.
	waitFor(t, "zombie", func() bool { return !processAlive(pid) })
	cmd.Wait()
	if processAlive(deadPid(t)) || processAlive(0) || processAlive(-1) {
		t.Error("dead pid reported alive")
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0 days 0 hours 0 minutes 0 seconds"},
		{90 * time.Second, "0 days 0 hours 1 minutes 30 seconds"},
		{49*time.Hour + 2*time.Minute, "2 days 1 hours 2 minutes 0 seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.d.String(), func(t *testing.T) {
			if got := formatUptime(tt.d); got != tt.want {
				t.Errorf("formatUptime(%v) = %q, want %q", tt.d, got, tt.want)
			}
		})
	}
	for n, want := range map[int64]string{0: "-", 512: "512B", 1536: "1.5K", 5 << 20: "5.0M", 3 << 30: "3.0G"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestStopHookHangs: a Stop hook that never returns does not keep Run, and
// with it the process, alive past the stop timeout.
func TestStopHookHangs(t *testing.T) {
	cfg, _, errOut := testConfig(t, "start", "-q")
	cfg.StopTimeout = 200 * time.Millisecond
	fs := &fakeServer{}
	h := fs.hooks()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	h.Stop = func(bool, time.Duration) {
		fs.ln.Close()
		<-release
	}
	done := make(chan error, 1)
	go func() { done <- Run(cfg, h) }()
	waitFor(t, "pid file", func() bool { pid, err := readPid(cfg.PidFile); return err == nil && pid == os.Getpid() })
	scfg, _, _ := testConfig(t, "stop", "-q")
	scfg.PidFile = cfg.PidFile
	if err := Run(scfg, Hooks{}); err != nil {
		t.Fatalf("stop: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrStopTimeout) {
			t.Errorf("start returned %v, want ErrStopTimeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("start did not return after the stop timeout")
	}
	if !strings.Contains(errOut.String(), "did not stop within") {
		t.Errorf("stderr = %q", errOut)
	}
	if _, err := os.Stat(cfg.PidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left: %v", err)
	}
}

// TestStartDaemonErrorAfterFork: go-daemon may report an error (a broken
// pipe when the daemon closed its side early) although the daemon process
// runs. start -d must then judge by the daemon itself and never leave it
// running behind a failed start.
func TestStartDaemonErrorAfterFork(t *testing.T) {
	cfg, _, errOut := testConfig(t, "start", "-d")
	cfg.setDefaults()
	cfg.StartTimeout = 300 * time.Millisecond
	var started *exec.Cmd
	reborn := func(*godaemon.Context) (*os.Process, error) {
		// A daemon that never gets ready.
		started = exec.Command("sleep", "30")
		if err := started.Start(); err != nil {
			t.Fatal(err)
		}
		return started.Process, errors.New("write |1: broken pipe")
	}
	err := startDaemon(cfg, options{daemon: true}, reborn)
	if !errors.Is(err, ErrStartFailed) || !strings.Contains(errOut.String(), "not ready within") {
		t.Errorf("err = %v, stderr %q", err, errOut)
	}
	if started == nil {
		t.Fatal("reborn not called")
	}
	if processAlive(started.Process.Pid) {
		started.Process.Kill()
		t.Error("the daemon process was left running")
	}
}

// TestSignalBeforeRun: once bootstrap has made the server reachable, a
// signal that arrives before the main loop runs is obeyed, not left to its
// default action (which for SIGTERM would end this test process).
func TestSignalBeforeRun(t *testing.T) {
	cfg, _, _ := testConfig(t, "start")
	cfg.setDefaults()
	fs := &fakeServer{}
	s := newServer(cfg, fs.hooks(), false)
	if err := s.bootstrap(nil); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- s.run() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not stop on the SIGTERM that came before it")
	}
	if got := strings.Join(fs.Calls(), ","); got != "listen,serve,stop graceful=false" {
		t.Errorf("calls = %s", got)
	}
	if _, err := os.Stat(cfg.PidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left: %v", err)
	}
}
