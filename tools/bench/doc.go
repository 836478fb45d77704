// Command bench measures goes against its peers on this machine: TCP echo,
// HTTP hello world (keep-alive and pipelined, driven by wrk), WebSocket
// echo and the memory of idle connections.
//
// Every server runs in its own process (this binary re-run with a hidden
// "serve" subcommand), so the CPU time and memory read from /proc are the
// server's alone; the load generators run in the harness or in wrk.
//
//	go run ./tools/bench                           # everything, 3 s per run
//	go run ./tools/bench -runs 3 -out bench.md     # medians of 3, Markdown + SVG
//	go run ./tools/bench -servers goes,gnet -shapes echo
//	go run ./tools/bench -shapes idle -idle 10000 -idle-max 19000
//	go run ./tools/bench -pinned -servers goes,gnet -shapes echo-100x64,echo-100x16
//	go run ./tools/bench -shapes proxy -runs 3       # direct, examples/proxy, io.Copy proxy, raw epoll proxy
//
// -pinned holds the servers to CPU 0 and the harness and wrk to the other
// CPUs, as taskset would; by default everything shares every CPU. For
// every load run the report shows, per message and beside throughput, the
// server's user and system CPU, context switches and system calls by kind
// (perf stat's software events and syscall tracepoints; without perf only
// the switches, from /proc): what a change that saves wake-ups moves.
//
// The HTTP shapes need wrk (apt-get install wrk) and are skipped without it.
// Idle connections come from 127.0.0.2 and up (-src-addrs) so that tens of
// thousands of them do not exhaust one address's ports; the open-files
// limit is raised to its hard limit in the harness and in every server.
//
// BENCH_CPUPROFILE=/tmp/cpu makes every server process write a CPU profile
// of its run to /tmp/cpu.<server>.<kind>.<pid>, for go tool pprof.
package main
