package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// machineInfo describes where the numbers were measured.
type machineInfo struct {
	CPUs      int
	CPUModel  string
	MemGiB    float64
	Kernel    string
	GoVersion string
	Wrk       string // "" when wrk is not installed
	Pinned    bool   // servers on CPU 0, load generators on the others
}

func (m machineInfo) String() string {
	s := fmt.Sprintf("%d × %s (nproc %d)", m.CPUs, orUnknown(m.CPUModel), m.CPUs)
	if m.MemGiB > 0 {
		s += fmt.Sprintf(", %.0f GiB RAM", m.MemGiB)
	}
	s += fmt.Sprintf(", %s %s, %s %s/%s", runtime.GOOS, orUnknown(m.Kernel), m.GoVersion, runtime.GOOS, runtime.GOARCH)
	if m.Wrk != "" {
		s += ", " + m.Wrk
	}
	if m.Pinned {
		return s + "; pinned: servers on CPU 0, load generators on the others, over loopback"
	}
	return s + "; servers and load generators share the CPUs over loopback"
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func readMachine(wrkPath string) machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = cpuModel(string(b))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		m.MemGiB = memTotalGiB(string(b))
	}
	if wrkPath != "" {
		// wrk -v prints its version and exits with status 1.
		out, _ := exec.Command(wrkPath, "-v").CombinedOutput()
		if line, _, _ := strings.Cut(string(out), "\n"); strings.HasPrefix(line, "wrk ") {
			if f := strings.Fields(line); len(f) >= 2 {
				m.Wrk = "wrk " + f[1]
			}
		}
	}
	return m
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel(cpuinfo string) string {
	sc := bufio.NewScanner(strings.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}

func memTotalGiB(meminfo string) float64 {
	sc := bufio.NewScanner(strings.NewReader(meminfo))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err == nil {
				return kb / (1 << 20)
			}
		}
	}
	return 0
}
