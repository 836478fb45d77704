package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// row is one server's figures in one section: every sample and their
// medians.
type row struct {
	Server  string
	Peer    bool
	Samples []sample
	Errs    []string

	Throughput, P50, P99, CPUPerMsg, CPUCores float64 // medians; latencies in ns
	RSSKB, BeforeKB, KBPerConn, Conns         float64
	UserPerMsg, SysPerMsg, CSPerMsg           float64
	SyscallsPerMsg, WaitCores                 float64
	ByKind                                    map[string]float64 // nil: not counted
}

type section struct {
	Shape shape
	Rows  []*row
}

type report struct {
	Machine  string
	Settings string
	Command  string // how to reproduce the run
	Sections []section
}

// aggregate computes every row's medians over its samples (NaN without
// samples).
func (s *section) aggregate() {
	for _, r := range s.Rows {
		pick := func(f func(sample) float64) float64 {
			xs := make([]float64, 0, len(r.Samples))
			for _, x := range r.Samples {
				xs = append(xs, f(x))
			}
			return median(xs)
		}
		r.Throughput = pick(func(x sample) float64 { return x.Throughput })
		r.P50 = pick(func(x sample) float64 { return float64(x.P50) })
		r.P99 = pick(func(x sample) float64 { return float64(x.P99) })
		r.CPUPerMsg = pick(func(x sample) float64 { return x.CPUPerMsg })
		r.CPUCores = pick(func(x sample) float64 { return x.CPUCores })
		r.RSSKB = pick(func(x sample) float64 { return float64(x.RSSKB) })
		r.BeforeKB = pick(func(x sample) float64 { return float64(x.BeforeKB) })
		r.KBPerConn = pick(func(x sample) float64 { return x.KBPerConn })
		r.Conns = pick(func(x sample) float64 { return float64(x.Conns) })
		r.UserPerMsg = pick(func(x sample) float64 { return x.UserPerMsg })
		r.SysPerMsg = pick(func(x sample) float64 { return x.SysPerMsg })
		r.CSPerMsg = pick(func(x sample) float64 { return x.CSPerMsg })
		r.SyscallsPerMsg = pick(func(x sample) float64 { return x.SyscallsPerMsg })
		r.WaitCores = pick(func(x sample) float64 { return x.WaitCores })
		r.ByKind = nil
		for _, x := range r.Samples {
			for k := range x.ByKind {
				if r.ByKind == nil {
					r.ByKind = map[string]float64{}
				}
				r.ByKind[k] = pick(func(x sample) float64 {
					if v, ok := x.ByKind[k]; ok {
						return v
					}
					return math.NaN()
				})
			}
		}
	}
}

// sleeps is a row's nanosleep and futex calls per message: the wake-ups
// it pays for besides the context switches.
func (r *row) sleeps() float64 {
	if r.ByKind == nil {
		return math.NaN()
	}
	return r.ByKind["nanosleep"] + r.ByKind["futex"]
}

// kindsCell lists the system calls per message by kind, most frequent
// first, leaving out the rare ones.
func kindsCell(by map[string]float64) string {
	if by == nil {
		return "–"
	}
	keys := make([]string, 0, len(by))
	for k, v := range by {
		if v >= 0.005 {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if by[keys[i]] != by[keys[j]] {
			return by[keys[i]] > by[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %.3g", k, by[k])
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, ", ")
}

// bestPeer returns the best value of f among the peers.
func (s *section) bestPeer(f func(*row) float64, higherBetter bool) float64 {
	var xs []float64
	for _, r := range s.Rows {
		if r.Peer {
			xs = append(xs, f(r))
		}
	}
	return bestOf(xs, higherBetter)
}

func (s *section) idle() bool { return s.Shape.Load == loadIdle || s.Shape.Load == loadPairs }

// primary is the figure a section is charted by.
func (s *section) primary() (f func(*row) float64, unit string, higherBetter bool) {
	if s.idle() {
		return func(r *row) float64 { return r.KBPerConn }, "KB per connection", false
	}
	unit = "messages/s"
	if s.Shape.Kind == kindHTTP {
		unit = "requests/s"
	}
	return func(r *row) float64 { return r.Throughput }, unit, true
}

func (rep report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %s.\n\nSettings: %s. Ratios (×) compare with the best peer in the same table: above 1 means more (throughput: faster; costs: more expensive). CPU is the server process's user+sys time.\n", rep.Machine, rep.Settings)
	if rep.Command != "" {
		fmt.Fprintf(&b, "\nReproduce: `%s`\n", rep.Command)
	}
	for i := range rep.Sections {
		s := &rep.Sections[i]
		fmt.Fprintf(&b, "\n### %s\n\n", s.Shape.Title)
		if s.Shape.Kind == kindRoute {
			s.routeTable(&b)
		} else if s.Shape.Load == loadPairs {
			s.pairsTable(&b)
		} else if s.idle() {
			best := s.bestPeer(func(r *row) float64 { return r.KBPerConn }, false)
			b.WriteString("| server | connections | KB/conn | × best peer | RSS before | RSS with connections |\n|---|--:|--:|--:|--:|--:|\n")
			for _, r := range s.Rows {
				if len(r.Samples) == 0 {
					fmt.Fprintf(&b, "| %s | failed | | | | |\n", serverCell(r))
					continue
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", serverCell(r), thousands(int(r.Conns)),
					fixed(r.KBPerConn, 2), times(ratio(r.KBPerConn, best)), mbf(r.BeforeKB), mbf(r.RSSKB))
			}
		} else {
			bestT := s.bestPeer(func(r *row) float64 { return r.Throughput }, true)
			bestC := s.bestPeer(func(r *row) float64 { return r.CPUPerMsg }, false)
			bestM := s.bestPeer(func(r *row) float64 { return r.RSSKB }, false)
			b.WriteString("| server | throughput /s | × best peer | p50 | p99 | CPU µs/msg | × best peer | CPU cores | peak RSS | × best peer |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
			for _, r := range s.Rows {
				if len(r.Samples) == 0 {
					fmt.Fprintf(&b, "| %s | failed | | | | | | | | |\n", serverCell(r))
					continue
				}
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", serverCell(r),
					humanCount(r.Throughput), times(ratio(r.Throughput, bestT)),
					latency(r.P50), latency(r.P99),
					fixed(r.CPUPerMsg, 2), times(ratio(r.CPUPerMsg, bestC)), fixed(r.CPUCores, 2),
					mbf(r.RSSKB), times(ratio(r.RSSKB, bestM)))
			}
			s.wakeups(&b)
		}
		notes := s.notes()
		if len(notes) > 0 {
			b.WriteString("\n")
			for _, n := range notes {
				fmt.Fprintf(&b, "- %s\n", n)
			}
		}
	}
	return b.String()
}

// wakeups writes a load section's second table: the server's costs per
// message beside its throughput, so that a change that saves wake-ups
// shows.
func (s *section) wakeups(b *strings.Builder) {
	bestCS := s.bestPeer(func(r *row) float64 { return r.CSPerMsg }, false)
	bestSl := s.bestPeer((*row).sleeps, false)
	b.WriteString("\nPer message, server side: user and system CPU, context switches, nanosleep + futex calls, system calls (all, and by kind); and the cores' worth of time the server's threads waited for a CPU (other work on the machine took it).\n\n")
	b.WriteString("| server | throughput /s | CPU cores | waiting | user µs | sys µs | switches | × best peer | nanosleep+futex | × best peer | syscalls | by kind |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, r := range s.Rows {
		if len(r.Samples) == 0 {
			fmt.Fprintf(b, "| %s | failed | | | | | | | | | | |\n", serverCell(r))
			continue
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", serverCell(r),
			humanCount(r.Throughput), fixed(r.CPUCores, 2), fixed(r.WaitCores, 2), fixed(r.UserPerMsg, 2), fixed(r.SysPerMsg, 2),
			fixed(r.CSPerMsg, 3), times(ratio(r.CSPerMsg, bestCS)),
			fixed(r.sleeps(), 3), times(ratio(r.sleeps(), bestSl)),
			fixed(r.SyscallsPerMsg, 2), kindsCell(r.ByKind))
	}
}

// notes lists the failures and oddities of a section's runs, once each.
func (s *section) notes() []string {
	var out []string
	seen := map[string]bool{}
	add := func(server, msg string) {
		n := server + ": " + msg
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, r := range s.Rows {
		for _, e := range r.Errs {
			add(r.Server, "failed: "+oneLine(e))
		}
		for _, x := range r.Samples {
			for _, n := range x.Notes {
				add(r.Server, oneLine(n))
			}
		}
	}
	return out
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func serverCell(r *row) string {
	if r.Peer {
		return r.Server
	}
	return "**" + r.Server + "**"
}

func fixed(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

func times(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf("%.2f×", v)
}

func mbf(kb float64) string {
	if math.IsNaN(kb) {
		return "–"
	}
	return fmt.Sprintf("%.1f MB", kb/1024)
}

// latency prints a duration in ns with three significant digits.
func latency(ns float64) string {
	if math.IsNaN(ns) || ns <= 0 {
		return "–"
	}
	d := time.Duration(ns)
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%d ns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.3g µs", ns/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.3g ms", ns/1e6)
	}
	return fmt.Sprintf("%.3g s", ns/1e9)
}

// humanCount prints 76712.4 as 76.7k and 1.2e6 as 1.20M.
func humanCount(v float64) string {
	switch {
	case math.IsNaN(v):
		return "–"
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// thousands prints 19000 as 19,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
