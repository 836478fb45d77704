//go:build linux

package main

import (
	"os"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		user, sys time.Duration
		ok        bool
	}{
		{"plain", "1234 (bench) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 4 0 100 1000 200", 2500 * time.Millisecond, 750 * time.Millisecond, true},
		{"name with spaces and parens", "7 (a) b (c) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0", 10 * time.Millisecond, 20 * time.Millisecond, true},
		{"short", "7 (x) R 1 2", 0, 0, false},
		{"no name", "7 x R", 0, 0, false},
		{"not a number", "7 (x) R 1 7 7 0 -1 0 0 0 0 0 u 2 0 0", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, sys, err := parseStatCPU([]byte(tt.in))
			if (err == nil) != tt.ok || user != tt.user || sys != tt.sys {
				t.Errorf("parseStatCPU = %v, %v, %v; want %v, %v, ok %v", user, sys, err, tt.user, tt.sys, tt.ok)
			}
		})
	}
}

func TestParseStatusMem(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		rss, hwm int64
		ok       bool
	}{
		{"both", "Name:\tbench\nVmPeak:\t  9000 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\n", 1024, 2048, true},
		{"missing HWM", "VmRSS:\t1024 kB\n", 0, 0, false},
		{"garbage", "VmRSS:\tlots kB\nVmHWM:\t1 kB\n", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rss, hwm, err := parseStatusMem([]byte(tt.in))
			if (err == nil) != tt.ok || rss != tt.rss || hwm != tt.hwm {
				t.Errorf("parseStatusMem = %d, %d, %v; want %d, %d, ok %v", rss, hwm, err, tt.rss, tt.hwm, tt.ok)
			}
		})
	}
}

func TestProcSelf(t *testing.T) {
	// Burn a little CPU so the counters move past zero.
	end := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(end); x++ {
		_ = x * x
	}
	user, sys, err := procCPU(os.Getpid())
	if err != nil || user+sys <= 0 {
		t.Errorf("procCPU(self) = %v, %v, %v", user, sys, err)
	}
	rss, hwm, err := procMem(os.Getpid())
	if err != nil || rss <= 0 || hwm < rss {
		t.Errorf("procMem(self) = %d, %d, %v", rss, hwm, err)
	}
	if _, _, err := procCPU(-1); err == nil {
		t.Error("procCPU of no process succeeded")
	}
	if lim, err := raiseFileLimit(); err != nil || lim < 1024 {
		t.Errorf("raiseFileLimit = %d, %v", lim, err)
	}
}
