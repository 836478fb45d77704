//go:build unix

package daemon

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stranger starts a process unrelated to the server, ended when the test
// ends.
func stranger(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

// namePid rewrites the pid file's pid as pid, as if the server had died and
// its pid had been reused. keepRest keeps what else the file records about
// the dead server; without it the file holds the pid alone.
func namePid(t *testing.T, path string, pid int, keepRest bool, rest string) {
	t.Helper()
	content := strconv.Itoa(pid) + "\n"
	if keepRest {
		content += rest
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// A server killed with SIGKILL leaves its pid file behind, and its pid may
// be reused by an unrelated process. No command may signal that process:
// the file is stale, reported as not running (exit 3) and removed, and
// start -d starts a new server.
func TestProcessStalePidFileNamesStranger(t *testing.T) {
	v1 := binary(t, "v1")
	for _, keepRest := range []bool{true, false} {
		t.Run("records="+strconv.FormatBool(keepRest), func(t *testing.T) {
			w := newWorld(t)
			w.must(v1, "start", "-d", "-q")
			pid := w.pid()
			b, err := os.ReadFile(w.pidFile)
			if err != nil {
				t.Fatal(err)
			}
			_, rest, _ := strings.Cut(string(b), "\n")
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			waitGone(t, pid, 5*time.Second)
			s := stranger(t)
			spid := s.Process.Pid

			for _, cmd := range [][]string{{"stop"}, {"stop", "-g"}, {"status"}, {"reload"}, {"connections"}} {
				namePid(t, w.pidFile, spid, keepRest, rest)
				r := w.run(v1, cmd...)
				if r.code != ExitNotRunning || !strings.Contains(r.stderr, "not running") {
					t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d, not running", cmd, r.code, r.stdout, r.stderr, ExitNotRunning)
				}
				if strings.Contains(r.stdout, "stopped") {
					t.Errorf("%v claims to have stopped the server: %q", cmd, r.stdout)
				}
				if !processAlive(spid) {
					t.Fatalf("%v killed the unrelated process %d named by the stale pid file", cmd, spid)
				}
				if _, err := os.Stat(w.pidFile); !os.IsNotExist(err) {
					t.Errorf("%v left the stale pid file: %v", cmd, err)
				}
			}

			namePid(t, w.pidFile, spid, keepRest, rest)
			r := w.run(v1, "start", "-d", "-q")
			if r.code != 0 {
				t.Fatalf("start -d over a stale pid file: exit %d, stderr %q", r.code, r.stderr)
			}
			npid := w.pid()
			if npid == spid || npid == pid {
				t.Fatalf("pid file names %d after start", npid)
			}
			if _, p := mustAsk(t, dial(t, w.addr()), "hello"); p != npid {
				t.Errorf("answered by pid %d, want %d", p, npid)
			}
			r = w.must(v1, "status")
			if !strings.Contains(r.stdout, strconv.Itoa(npid)) {
				t.Errorf("status:\n%s", r.stdout)
			}
			w.must(v1, "stop")
			waitGone(t, npid, 5*time.Second)
			if !processAlive(spid) {
				t.Fatal("the unrelated process died")
			}
		})
	}
}

// Without its control socket the server is still known by the start time
// and executable its pid file records: stop signals it.
func TestProcessStopWithoutControlSocket(t *testing.T) {
	v1 := binary(t, "v1")
	w := newWorld(t)
	w.must(v1, "start", "-d", "-q")
	pid := w.pid()
	if err := os.Remove(controlPath(w.pidFile)); err != nil {
		t.Fatal(err)
	}
	r := w.must(v1, "stop")
	if !strings.Contains(r.stdout, "stopped (pid "+strconv.Itoa(pid)) {
		t.Errorf("stop: %q %q", r.stdout, r.stderr)
	}
	waitGone(t, pid, 5*time.Second)
	if !strings.Contains(w.events(), "stop "+strconv.Itoa(pid)+" graceful=false") {
		t.Errorf("events: %q", w.events())
	}
	if _, err := os.Stat(w.pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left: %v", err)
	}
}

// serverRecord trusts a pid file without a control socket only when the
// process's start time and executable are those recorded.
func TestServerRecordIdentity(t *testing.T) {
	s := stranger(t)
	pid := s.Process.Pid
	start, exe, err := procIdentity(pid)
	if err != nil || start == "" {
		t.Fatalf("procIdentity(%d) = %q, %q, %v", pid, start, exe, err)
	}
	path := t.TempDir() + "/p.pid"
	tests := []struct {
		name string
		rec  pidRecord
		want bool
	}{
		{"recorded", pidRecord{pid: pid, start: start, exe: exe}, true},
		{"no executable recorded", pidRecord{pid: pid, start: start}, true},
		{"other start", pidRecord{pid: pid, start: start + "1", exe: exe}, false},
		{"other executable", pidRecord{pid: pid, start: start, exe: exe + ".old"}, false},
		{"pid alone", pidRecord{pid: pid}, false},
		{"gone", pidRecord{pid: deadPid(t), start: start, exe: exe}, false},
	}
	for _, tt := range tests {
		if err := os.WriteFile(path, tt.rec.format(), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, ok := serverRecord(path); ok != tt.want {
			t.Errorf("%s: serverRecord = %v, want %v", tt.name, ok, tt.want)
		}
		if tt.rec.start != "" && tt.rec.sameProcess() != (tt.rec.start == start && tt.name != "gone") {
			t.Errorf("%s: sameProcess = %v", tt.name, tt.rec.sameProcess())
		}
		if err := signalServer(tt.rec, 0); (err == nil) != (tt.rec.sameProcess()) {
			t.Errorf("%s: signalServer: %v", tt.name, err)
		}
	}
	if err := writePid(path, pid); err != nil {
		t.Fatal(err)
	}
	rec, err := readPidFile(path)
	if err != nil || rec.pid != pid || rec.start != start || rec.exe != exe {
		t.Errorf("written and read back: %+v, %v; want pid %d start %q exe %q", rec, err, pid, start, exe)
	}
}

// Whoever the control socket answers finds the pid file naming the server:
// start -d returns once its daemon answers, and its caller reads the file.
func TestControlAnswersOnlyOnceRecorded(t *testing.T) {
	for i := 0; i < 20; i++ {
		cfg, _, _ := testConfig(t, "start", "-q")
		fs := &fakeServer{}
		done := make(chan error, 1)
		go func() { done <- Run(cfg, fs.hooks()) }()
		var pid int
		var err error
		waitFor(t, "control socket", func() bool {
			resp, cerr := call(cfg.PidFile, request{Cmd: "ping"}, time.Second)
			if cerr != nil {
				return false
			}
			// Read at once: the file must already be there.
			pid, err = readPid(cfg.PidFile)
			return resp.Pid == os.Getpid()
		})
		if err != nil || pid != os.Getpid() {
			t.Errorf("round %d: the control socket answered while the pid file said %d, %v", i, pid, err)
		}
		if _, err := call(cfg.PidFile, request{Cmd: "stop"}, 5*time.Second); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
