//go:build unix

package daemon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// controlPath is the control socket's path for a pid file.
func controlPath(pidFile string) string { return pidFile + ".sock" }

// readPid returns the pid stored in path.
func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("goes: bad pid file %s: %q", path, b)
	}
	return pid, nil
}

// writePid replaces path with pid atomically, so a reader never sees a
// half-written file.
func writePid(path string, pid int) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
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

// runningPid returns the pid in path if that process is alive. A pid file
// naming a process that is gone is stale: it reports ok false.
func runningPid(path string) (pid int, ok bool) {
	pid, err := readPid(path)
	if err != nil {
		return 0, false
	}
	return pid, processAlive(pid)
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
