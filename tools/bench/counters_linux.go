//go:build linux

package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"syscall"
	"time"
)

// The server's costs per message besides CPU time: how often it sleeps and
// wakes (context switches) and which system calls it makes. perf counts
// them process-wide (every thread, software events and syscall
// tracepoints, which need no hardware counters); without perf the context
// switches come from /proc and the system calls are left out.

// traced lists the system calls counted by kind; syscalls:all counts every
// one (raw_syscalls:sys_enter).
var traced = []string{
	"read", "write", "writev", "recvfrom", "sendto", "epoll_wait", "epoll_pwait",
	"epoll_ctl", "futex", "nanosleep", "sched_yield", "tgkill", "getpid", "accept4",
}

const (
	evCS         = "cs"
	evAll        = "syscalls"
	perfInterval = 100 * time.Millisecond
	perfStartup  = 100 * time.Millisecond // perf attaches within this, mostly
)

// counters follows one server process for a load run.
type counters struct {
	pid     int
	perf    *exec.Cmd
	zero    time.Time    // perf's interval clock starts here; set once a line arrived
	out     bytes.Buffer // perf's interval lines
	done    chan struct{}
	perfErr error

	cs0, cs1      int64 // /proc fallback
	wait0, wait1  time.Duration
	w0, w1        time.Time
	csErr, csErr1 error
}

// startCounters begins counting for pid; call begin and end at the edges
// of the measured window, then stop.
func startCounters(pid int) *counters {
	c := &counters{pid: pid, done: make(chan struct{})}
	perf, err := exec.LookPath("perf")
	if err != nil {
		c.perfErr = errors.New("perf not found: no system calls by kind (apt-get install linux-perf)")
		close(c.done)
		return c
	}
	events := []string{"context-switches", "raw_syscalls:sys_enter"}
	for _, s := range traced {
		events = append(events, "syscalls:sys_enter_"+s)
	}
	c.perf = exec.Command(perf, "stat", "-x", ",", "-I", strconv.Itoa(int(perfInterval/time.Millisecond)),
		"-e", strings.Join(events, ","), "-p", strconv.Itoa(pid))
	c.perf.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pipe, err := c.perf.StderrPipe()
	if err == nil {
		err = c.perf.Start()
	}
	if err != nil {
		c.perfErr = fmt.Errorf("perf: %w", err)
		close(c.done)
		return c
	}
	go func() {
		// perf stamps its lines with the time since it began counting,
		// which is later than its start by how long it took to attach:
		// the first line's arrival tells when that was.
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			if c.zero.IsZero() {
				if f := strings.Split(line, ","); len(f) >= 4 {
					if ts, err := strconv.ParseFloat(strings.TrimSpace(f[0]), 64); err == nil {
						c.zero = time.Now().Add(-time.Duration(ts * float64(time.Second)))
					}
				}
			}
			c.out.WriteString(line + "\n")
		}
		c.perf.Wait()
		close(c.done)
	}()
	return c
}

func (c *counters) begin() {
	c.w0 = time.Now()
	c.cs0, c.wait0, c.csErr = procSwitches(c.pid)
}

func (c *counters) end() {
	c.w1 = time.Now()
	c.cs1, c.wait1, c.csErr1 = procSwitches(c.pid)
}

// stop ends perf and fills s's per-message figures for msgs messages.
func (c *counters) stop(s *sample, msgs uint64) {
	if c.perf != nil && c.perf.Process != nil {
		c.perf.Process.Signal(syscall.SIGINT)
		select {
		case <-c.done:
		case <-time.After(3 * time.Second):
			c.perf.Process.Kill()
			<-c.done
		}
	}
	if msgs == 0 {
		return
	}
	per := func(n float64) float64 { return n / float64(msgs) }
	if errors.Join(c.csErr, c.csErr1) == nil && c.w1.After(c.w0) {
		s.WaitCores = (c.wait1 - c.wait0).Seconds() / c.w1.Sub(c.w0).Seconds()
	}
	if c.perfErr == nil && c.zero.IsZero() {
		c.perfErr = fmt.Errorf("perf printed no counts: %s", oneLine(lastLines(c.out.String(), 3)))
	}
	if c.perfErr == nil {
		counts, err := windowCounts(c.out.Bytes(), c.w0.Sub(c.zero), c.w1.Sub(c.zero))
		if err == nil {
			s.CSPerMsg = per(counts[evCS])
			s.SyscallsPerMsg = per(counts[evAll])
			s.ByKind = map[string]float64{}
			for _, k := range traced {
				s.ByKind[k] = per(counts[k])
			}
			return
		}
		c.perfErr = err
	}
	s.Notes = append(s.Notes, c.perfErr.Error())
	if err := errors.Join(c.csErr, c.csErr1); err == nil {
		s.CSPerMsg = per(float64(c.cs1 - c.cs0))
	}
}

// windowCounts sums perf's interval counts, by event, over the intervals
// that end within (from, to] of perf's zero (to half an interval).
func windowCounts(out []byte, from, to time.Duration) (map[string]float64, error) {
	counts := map[string]float64{}
	seen := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if len(f) < 4 || strings.HasPrefix(f[0], "#") {
			continue
		}
		ts, err := strconv.ParseFloat(strings.TrimSpace(f[0]), 64)
		if err != nil {
			continue
		}
		at := time.Duration(ts * float64(time.Second))
		if at <= from+perfInterval/2 || at > to+perfInterval/2 {
			continue
		}
		n, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue // <not counted>, <not supported>
		}
		seen = true
		switch ev := f[3]; {
		case ev == "context-switches":
			counts[evCS] += n
		case ev == "raw_syscalls:sys_enter":
			counts[evAll] += n
		default:
			counts[strings.TrimPrefix(ev, "syscalls:sys_enter_")] += n
		}
	}
	if !seen {
		return nil, fmt.Errorf("perf counted nothing: %s", oneLine(lastLines(string(out), 3)))
	}
	return counts, nil
}

// procSwitches is the context switches of pid's live threads, and the
// time they spent runnable but waiting for a CPU (schedstat's run delay).
func procSwitches(pid int) (int64, time.Duration, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	if err != nil || len(tasks) == 0 {
		return 0, 0, fmt.Errorf("no threads of %d in /proc", pid)
	}
	var total int64
	var wait time.Duration
	for _, t := range tasks {
		if b, err := os.ReadFile(t + "/schedstat"); err == nil {
			if f := strings.Fields(string(b)); len(f) >= 2 {
				ns, _ := strconv.ParseInt(f[1], 10, 64)
				wait += time.Duration(ns)
			}
		}
		b, err := os.ReadFile(t + "/status")
		if err != nil {
			continue // the thread ended
		}
		for _, line := range bytes.Split(b, []byte{'\n'}) {
			k, v, ok := bytes.Cut(line, []byte{':'})
			if ok && (string(k) == "voluntary_ctxt_switches" || string(k) == "nonvoluntary_ctxt_switches") {
				n, _ := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
				total += n
			}
		}
	}
	return total, wait, nil
}
