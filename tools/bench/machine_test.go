package main

import (
	"strings"
	"testing"
)

func TestCPUModel(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"x86", "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC  7B13\nflags\t: fpu\n\nprocessor\t: 1\nmodel name\t: other\n", "AMD EPYC 7B13"},
		{"none", "processor\t: 0\nCPU implementer\t: 0x41\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cpuModel(tt.in); got != tt.want {
				t.Errorf("cpuModel = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMemTotal(t *testing.T) {
	if got := memTotalGiB("MemTotal:       24683520 kB\nMemFree: 1 kB\n"); got < 23.5 || got > 23.6 {
		t.Errorf("memTotalGiB = %v, want about 23.54", got)
	}
	if got := memTotalGiB("nothing"); got != 0 {
		t.Errorf("memTotalGiB(nothing) = %v", got)
	}
}

func TestMachineString(t *testing.T) {
	m := machineInfo{CPUs: 2, CPUModel: "AMD EPYC", MemGiB: 24, Kernel: "6.1", GoVersion: "go1.26.8", Wrk: "wrk 4.1.0"}
	s := m.String()
	for _, want := range []string{"2 × AMD EPYC (nproc 2)", "24 GiB", "6.1", "go1.26.8", "wrk 4.1.0"} {
		if !strings.Contains(s, want) {
			t.Errorf("%q lacks %q", s, want)
		}
	}
	if s := (machineInfo{CPUs: 1}).String(); !strings.Contains(s, "unknown") {
		t.Errorf("empty machine = %q", s)
	}
}
