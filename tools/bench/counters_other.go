//go:build !linux

package main

// counters needs Linux (perf, /proc): elsewhere the figures stay empty.
type counters struct{}

const perfStartup = 0

func startCounters(int) *counters { return &counters{} }
func (*counters) begin()          {}
func (*counters) end()            {}
func (*counters) stop(s *sample, _ uint64) {
	s.Notes = append(s.Notes, "no context switches or system calls: they need Linux")
}
