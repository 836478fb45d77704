package tcp

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"syscall"
)

// starvation tells a handler that blocks from a loop that merely waits for
// a CPU. On a busy machine the kernel may leave a loop's thread runnable
// but unscheduled for several milliseconds in the middle of a handler that
// does not block at all; handing such a loop over would cost a goroutine
// and, repeated, switch the engine to workers for nothing.
//
// The kernel's count of runnable threads (the fourth field of
// /proc/loadavg, "running/total") says whether any thread waits for a CPU
// right now: more runnable threads than CPUs. The watchdog, which asks, is
// one of the running ones. When some thread waits, the stuck loop may be
// that thread, and the watchdog gives it up to starvedLimit before it hands
// the loop over.
//
// The count is the machine's: a process held to fewer CPUs than are online
// (an affinity mask, a CFS quota in a container) may starve while the
// machine has CPUs to spare, and then the watchdog hands a loop over after
// blockAfter as if no thread waited. Only the watchdog asks, and only
// about a loop that looks stuck, so the read of /proc/loadavg is rare.
type starvation struct {
	cpus   int // CPUs online
	buf    [128]byte
	broken bool // no /proc/loadavg: never starved
}

func newStarvation() *starvation {
	s := &starvation{cpus: onlineCPUs()}
	if _, ok := s.runnable(); !ok {
		s.broken = true
	}
	return s
}

// starved reports whether some thread of the machine waits for a CPU.
func (s *starvation) starved() bool {
	if s.broken {
		return false
	}
	n, ok := s.runnable()
	return ok && n > s.cpus
}

// runnable reads the machine's number of runnable threads.
func (s *starvation) runnable() (int, bool) {
	fd, err := syscall.Open("/proc/loadavg", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return 0, false
	}
	n, err := syscall.Read(fd, s.buf[:])
	syscall.Close(fd)
	if err != nil || n <= 0 {
		return 0, false
	}
	return parseLoadavg(s.buf[:n])
}

// parseLoadavg returns the running count of a /proc/loadavg line:
// "0.52 0.58 0.59 3/467 12345".
func parseLoadavg(b []byte) (int, bool) {
	f := bytes.Fields(b)
	if len(f) < 4 {
		return 0, false
	}
	run, _, ok := bytes.Cut(f[3], []byte("/"))
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(string(run))
	return n, err == nil && n >= 0
}

// onlineCPUs counts the CPUs in /sys/devices/system/cpu/online ("0-3,8"),
// the CPUs the runnable count is spread over.
func onlineCPUs() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return runtime.NumCPU()
	}
	if n, ok := parseCPUList(b); ok {
		return n
	}
	return runtime.NumCPU()
}

func parseCPUList(b []byte) (int, bool) {
	n := 0
	for _, r := range bytes.Split(bytes.TrimSpace(b), []byte(",")) {
		lo, hi, isRange := bytes.Cut(r, []byte("-"))
		a, err := strconv.Atoi(string(lo))
		if err != nil || a < 0 {
			return 0, false
		}
		z := a
		if isRange {
			if z, err = strconv.Atoi(string(hi)); err != nil || z < a {
				return 0, false
			}
		}
		n += z - a + 1
	}
	return n, n > 0
}
