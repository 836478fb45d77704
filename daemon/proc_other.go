//go:build unix && !linux

package daemon

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

func isZombie(pid int) bool {
	out, err := exec.Command("ps", "-o", "stat=", "-p", strconv.Itoa(pid)).Output()
	return err == nil && strings.HasPrefix(strings.TrimSpace(string(out)), "Z")
}

// procIdentity returns when pid started and its executable, as ps reports
// them. A pid reused by another process has another start time.
func procIdentity(pid int) (start, exe string, err error) {
	out, err := exec.Command("ps", "-o", "lstart=", "-p", strconv.Itoa(pid)).Output()
	if err != nil {
		return "", "", err
	}
	start = strings.TrimSpace(string(out))
	if start == "" {
		return "", "", fmt.Errorf("goes: ps: no start time for pid %d", pid)
	}
	if out, err := exec.Command("ps", "-o", "comm=", "-p", strconv.Itoa(pid)).Output(); err == nil {
		exe = strings.TrimSpace(string(out))
	}
	return start, exe, nil
}

// signalServer sends sig to rec's process if it still is the server.
func signalServer(rec pidRecord, sig syscall.Signal) error {
	if !rec.sameProcess() {
		return syscall.ESRCH
	}
	return syscall.Kill(rec.pid, sig)
}

func loadAverage() string {
	out, err := exec.Command("sysctl", "-n", "vm.loadavg").Output()
	if err != nil {
		return ""
	}
	f := strings.Fields(strings.Trim(strings.TrimSpace(string(out)), "{}"))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], ", ")
}

func residentMemory() int64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.Sys)
}

func selfExecutable() (string, error) { return os.Executable() }
