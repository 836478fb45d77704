//go:build unix

package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The pid file's first line is the server's pid alone, so that
// kill $(head -n 1 FILE) works. The lines after it record when that process
// started and which executable it runs:
//
//	12345
//	start 9876543
//	exe /srv/app/server
//
// A server killed with SIGKILL leaves its pid file behind, and the system may
// give its pid to another process later. The commands signal the pid only
// while it is still the server: its control socket answers with that pid, or
// its start time and executable are the ones recorded.

// controlPath is the control socket's path for a pid file.
func controlPath(pidFile string) string { return pidFile + ".sock" }

// pidRecord is what a pid file says about the server.
type pidRecord struct {
	pid   int
	start string // the process's start time (procIdentity); "" if unknown
	exe   string // its executable; "" if unknown
	raw   []byte // the file's content, to remove it only while unchanged
}

// parsePidFile reads a pid file's content. Lines it does not know are
// ignored; a file holding only the pid is valid.
func parsePidFile(b []byte) (pidRecord, error) {
	first, rest, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return pidRecord{}, fmt.Errorf("goes: bad pid file: %q", b)
	}
	rec := pidRecord{pid: pid, raw: b}
	for _, line := range strings.Split(rest, "\n") {
		key, val, _ := strings.Cut(line, " ")
		switch key {
		case "start":
			rec.start = val
		case "exe":
			rec.exe = val
		}
	}
	return rec, nil
}

// format is the pid file's content for rec.
func (rec pidRecord) format() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d\n", rec.pid)
	if rec.start != "" && !strings.Contains(rec.start, "\n") {
		fmt.Fprintf(&b, "start %s\n", rec.start)
	}
	if rec.exe != "" && !strings.Contains(rec.exe, "\n") {
		fmt.Fprintf(&b, "exe %s\n", rec.exe)
	}
	return b.Bytes()
}

func readPidFile(path string) (pidRecord, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return pidRecord{}, err
	}
	rec, err := parsePidFile(b)
	if err != nil {
		return rec, fmt.Errorf("%w (%s)", err, path)
	}
	return rec, nil
}

// readPid returns the pid stored in path.
func readPid(path string) (int, error) {
	rec, err := readPidFile(path)
	return rec.pid, err
}

// writePid replaces path, atomically, with a record of the live process pid.
func writePid(path string, pid int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	rec := pidRecord{pid: pid}
	rec.start, rec.exe, _ = procIdentity(pid)
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if err := os.WriteFile(tmp, rec.format(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// removePidIfOwn removes path and the control socket only while path still
// names pid: after a reload they belong to the new process.
func removePidIfOwn(path string, pid int) {
	if got, err := readPid(path); err == nil && got == pid {
		os.Remove(controlPath(path))
		os.Remove(path)
	}
}

// removeStale removes the stale pid file rec was read from, and the control
// socket beside it, unless the file has changed since (a server starting
// meanwhile has written its own).
func removeStale(path string, rec pidRecord) {
	if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, rec.raw) {
		os.Remove(controlPath(path))
		os.Remove(path)
	}
}

// serverRecord reads path and tells whether the process it names is the
// running server. When the file recorded no start time but the control
// socket vouched for the process, rec.start is filled in from the process,
// so that sameProcess can follow it.
func serverRecord(path string) (rec pidRecord, ok bool) {
	rec, err := readPidFile(path)
	if err != nil || !processAlive(rec.pid) {
		return rec, false
	}
	start, exe, err := procIdentity(rec.pid)
	if err == nil && rec.start != "" && start == rec.start && (rec.exe == "" || exe == "" || exe == rec.exe) {
		return rec, true
	}
	// Not the process recorded, or the file recorded too little: only the
	// server's control socket can vouch for it.
	resp, err := call(path, request{Cmd: "ping"}, time.Second)
	if err != nil || resp.Pid != rec.pid {
		return rec, false
	}
	rec.start = start
	return rec, true
}

// runningPid returns the pid in path if it names the running server (see
// serverRecord). A pid file naming a process that is gone, or another
// process, is stale: it reports ok false.
func runningPid(path string) (pid int, ok bool) {
	rec, ok := serverRecord(path)
	return rec.pid, ok
}

// sameProcess tells whether rec's process still runs: alive, and started
// when rec says (if rec knows).
func (rec pidRecord) sameProcess() bool {
	if !processAlive(rec.pid) {
		return false
	}
	if rec.start == "" {
		return true
	}
	start, _, err := procIdentity(rec.pid)
	return err == nil && start == rec.start
}

// processAlive tells whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	return !isZombie(pid)
}
