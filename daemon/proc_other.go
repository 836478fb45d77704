//go:build unix && !linux

package daemon

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

func isZombie(pid int) bool {
	out, err := exec.Command("ps", "-o", "stat=", "-p", strconv.Itoa(pid)).Output()
	return err == nil && strings.HasPrefix(strings.TrimSpace(string(out)), "Z")
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
