package daemon

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// procStat returns the fields of /proc/PID/stat that follow the command
// name, which is in parentheses and may itself contain spaces or
// parentheses: the first is the state (field 3 of proc(5)).
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return nil, fmt.Errorf("goes: /proc/%d/stat: unexpected %q", pid, s)
	}
	return strings.Fields(s[i+2:]), nil
}

// procIdentity returns when pid started (in clock ticks since boot, field 22
// of /proc/PID/stat) and its executable ("" if unreadable). A pid reused by
// another process has another start time.
func procIdentity(pid int) (start, exe string, err error) {
	f, err := procStat(pid)
	if err != nil {
		return "", "", err
	}
	if len(f) < 20 {
		return "", "", fmt.Errorf("goes: /proc/%d/stat: %d fields", pid, len(f))
	}
	exe, _ = os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	// A binary replaced on disk (go build over it) is still the same
	// process's executable.
	exe = strings.TrimSuffix(exe, " (deleted)")
	return f[19], exe, nil
}

// isZombie reports whether pid has exited but not been reaped: it holds no
// sockets any more and must count as gone.
func isZombie(pid int) bool {
	f, err := procStat(pid)
	return err == nil && len(f) > 0 && f[0] == "Z"
}

// loadAverage returns the 1, 5 and 15 minute load averages, or "" if unknown.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], ", ")
}

// residentMemory returns the process's resident set size in bytes, or 0.
func residentMemory() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

// selfExecutable is the path that starts this very binary again, even if
// its file has been replaced or removed since it started.
func selfExecutable() (string, error) {
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		return "/proc/self/exe", nil
	}
	return os.Executable()
}

// signalServer sends sig to rec's process, and to no other. A pidfd pins
// the process while its identity is checked, so a pid reused in between
// cannot receive the signal. Without pidfds (Linux before 5.3) the check
// and the signal are as close together as they can be.
func signalServer(rec pidRecord, sig syscall.Signal) error {
	fd, err := unix.PidfdOpen(rec.pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return err
		}
		if !rec.sameProcess() {
			return unix.ESRCH
		}
		return syscall.Kill(rec.pid, sig)
	}
	defer unix.Close(fd)
	if !rec.sameProcess() {
		return unix.ESRCH
	}
	return unix.PidfdSendSignal(fd, sig, nil, 0)
}
