package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSuiteSmoke runs the whole suite for goes (every engine) and the
// standard-library peers with tiny loads: every shape but echo-100x16
// (echo-100x64 with smaller messages: the same code, and time the proxy
// shapes' rawproxy route needs), every server in its own process.
func TestSuiteSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes and runs loads for about 30 s")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "bench.md")
	args := []string{
		"-servers", "goes,net", "-duration", "300ms", "-warmup", "50ms", "-settle", "100ms",
		"-echo-1k-conns", "4", "-echo-64-conns", "8", "-http-conns", "4", "-ws-conns", "4",
		"-idle", "40", "-idle-pairs", "40", "-src-addrs", "0", "-redis-requests", "2000", "-out", out,
		"-shapes", "echo-1k,echo-64,echo-100x64,http,ws,idle,proxy",
	}
	_, wrkErr := exec.LookPath("wrk")
	if wrkErr != nil {
		t.Log("wrk is not installed: the HTTP load shapes are skipped (apt-get install wrk)")
	}
	var stdout, stderr bytes.Buffer
	if err := run(args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	t.Log(stderr.String())
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), string(md)) {
		t.Error("printed table differs from the file")
	}
	if strings.Contains(string(md), "failed") {
		t.Errorf("a run failed:\n%s\n%s", md, stderr.String())
	}
	sections := []string{"TCP echo, 4 connections", "TCP echo, 8 connections", "TCP echo, 100 connections × 64 B",
		"WebSocket echo, 4 connections"}
	idle := []string{"Idle memory, 40 connections (TCP echo", "Idle memory, 40 connections (HTTP", "Idle memory, 40 connections (WebSocket"}
	pairs := "Idle memory, 40 proxied pairs"
	if wrkErr == nil {
		sections = append(sections, "keep-alive (wrk -t2 -c4)", "16 pipelined requests")
	} else if !strings.Contains(stderr.String(), "wrk not found") {
		t.Error("skipped wrk shapes without saying so")
	}
	for _, s := range append(append(idle, pairs), sections...) {
		if !strings.Contains(string(md), s) {
			t.Errorf("no section %q:\n%s", s, md)
		}
	}
	// The route sections: examples/proxy on both engines, the io.Copy
	// proxy, rawproxy and direct, every one measured.
	routes := []string{"TCP proxy: echo through it, 4 connections × 1 KiB", "8 connections × 64 KiB", "8 connections streaming"}
	if haveRedis() {
		routes = append(routes, "redis-benchmark through it")
	} else if !strings.Contains(stderr.String(), "proxy-redis: skipped") {
		t.Error("skipped the redis shape without saying so")
	}
	for _, s := range routes {
		if !strings.Contains(string(md), s) {
			t.Errorf("no section %q:\n%s", s, md)
		}
	}
	ws := inWorkspace()
	if !ws && !strings.Contains(stderr.String(), "goes/proxy routes skipped") {
		t.Error("left out the goes/proxy routes without saying so")
	}
	for _, r := range routeRows(ws) {
		cell := "| " + serverCell(r) + " |"
		if n := strings.Count(string(md), cell); n != len(routes) {
			t.Errorf("%d rows %q, want %d", n, cell, len(routes))
		}
	}
	// goes and its peer in every table, the peer as the 1.00× reference.
	for _, l := range strings.Split(string(md), "\n") {
		if strings.HasPrefix(l, "| net") && !strings.Contains(l, "| 1.00× |") {
			t.Errorf("peer row without the 1.00× reference: %q", l)
		}
	}
	for _, e := range goesEngines {
		// A load section has two tables: throughput, and costs per message.
		want := 2*len(sections) + len(idle)
		if _, ok := findImpl(e.Name, kindProxy); ok {
			want++
		}
		if n := strings.Count(string(md), "| **"+e.Name+"** |"); n != want {
			t.Errorf("%d %s rows, want %d", n, e.Name, want)
		}
	}
	svg, err := os.ReadFile(filepath.Join(dir, "bench.svg"))
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("chart is not XML: %v", err)
		}
	}
	live.Lock()
	left := len(live.m)
	live.Unlock()
	if left != 0 {
		t.Errorf("%d server processes left running", left)
	}
}

func TestServeUnknown(t *testing.T) {
	if code := serveMain([]string{"-impl", "nope", "-kind", "tcp", "-addr", "127.0.0.1:0"}, io.Discard); code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := startChild(self, "nope", kindTCP, nil, 10e9); err == nil || !strings.Contains(err.Error(), "no server") {
		t.Errorf("startChild of an unknown server: %v", err)
	}
}
