package main

import (
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

// testReport has one load section with a failed peer and one idle section.
func testReport() report {
	load := section{
		Shape: shape{Name: "echo-1k", Title: "TCP echo, 100 connections × 1 KiB", Kind: kindTCP, Load: loadEcho},
		Rows: []*row{
			{Server: "goes", Samples: []sample{
				{Throughput: 80000, P50: 1200 * time.Microsecond, P99: 3 * time.Millisecond, CPUPerMsg: 10, CPUCores: 0.8, RSSKB: 10240},
				{Throughput: 90000, P50: 1000 * time.Microsecond, P99: 2 * time.Millisecond, CPUPerMsg: 9, CPUCores: 0.81, RSSKB: 10240},
				{Throughput: 70000, P50: 1400 * time.Microsecond, P99: 4 * time.Millisecond, CPUPerMsg: 11, CPUCores: 0.79, RSSKB: 10240, Notes: []string{"2 of 100 connections failed: EOF"}},
			}},
			{Server: "gnet", Peer: true, Samples: []sample{{Throughput: 40000, P50: time.Millisecond, P99: 2 * time.Millisecond, CPUPerMsg: 20, CPUCores: 0.8, RSSKB: 5120}}},
			{Server: "net", Peer: true, Samples: []sample{{Throughput: 20000, P50: time.Millisecond, P99: 2 * time.Millisecond, CPUPerMsg: 40, CPUCores: 0.8, RSSKB: 20480}}},
			{Server: "nbio", Peer: true, Errs: []string{"server nbio/tcp exited: | boom"}},
		},
	}
	idle := section{
		Shape: shape{Name: "idle-tcp", Title: "Idle memory, 10,000 connections (TCP echo, one exchange each)", Kind: kindTCP, Load: loadIdle},
		Rows: []*row{
			{Server: "goes", Samples: []sample{{BeforeKB: 10240, RSSKB: 13740, KBPerConn: 0.35, Conns: 10000}}},
			{Server: "gnet", Peer: true, Samples: []sample{{BeforeKB: 9000, RSSKB: 14700, KBPerConn: 0.57, Conns: 10000}}},
			{Server: "net", Peer: true, Samples: []sample{{BeforeKB: 9000, RSSKB: 86000, KBPerConn: 7.7, Conns: 10000}}},
		},
	}
	load.aggregate()
	idle.aggregate()
	return report{Machine: "2 × AMD EPYC <test> & co; shared", Settings: "3s per load run", Command: "go run ./tools/bench -runs 3", Sections: []section{load, idle}}
}

func TestAggregate(t *testing.T) {
	rep := testReport()
	g := rep.Sections[0].Rows[0]
	if g.Throughput != 80000 || g.P50 != float64(1200*time.Microsecond) || g.P99 != float64(3*time.Millisecond) || g.CPUPerMsg != 10 {
		t.Errorf("medians = %v %v %v %v", g.Throughput, g.P50, g.P99, g.CPUPerMsg)
	}
	if nb := rep.Sections[0].Rows[3]; !math.IsNaN(nb.Throughput) {
		t.Errorf("failed row has throughput %v", nb.Throughput)
	}
}

func TestMarkdown(t *testing.T) {
	md := testReport().markdown()
	wants := []string{
		"Machine: 2 × AMD EPYC <test> & co; shared.",
		"Reproduce: `go run ./tools/bench -runs 3`",
		"### TCP echo, 100 connections × 1 KiB",
		// goes: 80k against the best peer's 40k, CPU 10 against 20, RSS 10 MB against 5 MB.
		"| **goes** | 80.0k | 2.00× | 1.2 ms | 3 ms | 10.00 | 0.50× | 0.80 | 10.0 MB | 2.00× |",
		"| gnet | 40.0k | 1.00× | 1 ms | 2 ms | 20.00 | 1.00× | 0.80 | 5.0 MB | 1.00× |",
		"| net | 20.0k | 0.50× |",
		"| nbio | failed |",
		"- nbio: failed: server nbio/tcp exited: / boom",
		"- goes: 2 of 100 connections failed: EOF",
		"### Idle memory, 10,000 connections",
		"| **goes** | 10,000 | 0.35 | 0.61× | 10.0 MB | 13.4 MB |",
		"| gnet | 10,000 | 0.57 | 1.00× |",
	}
	for _, w := range wants {
		if !strings.Contains(md, w) {
			t.Errorf("markdown lacks %q\n%s", w, md)
		}
	}
	// Every table row has as many cells as its header.
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| **goes**") || strings.HasPrefix(line, "| nbio") {
			if n := strings.Count(line, "|"); n != 11 && n != 13 && n != 7 { // throughput, costs per message, idle
				t.Errorf("row with %d separators: %q", n, line)
			}
		}
	}
}

func TestSVG(t *testing.T) {
	rep := testReport()
	svg := rep.svg()
	dec := xml.NewDecoder(strings.NewReader(svg))
	rects, texts := 0, []string{}
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, svg)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if el.Name.Local == "rect" {
				rects++
			}
			inText = el.Name.Local == "text"
		case xml.CharData:
			if inText {
				texts = append(texts, string(el))
			}
		case xml.EndElement:
			inText = false
		}
	}
	// A background plus one bar per row that has figures (3 + 3).
	if rects != 1+6 {
		t.Errorf("%d rects, want 7", rects)
	}
	all := strings.Join(texts, "\n")
	for _, w := range []string{"2 × AMD EPYC <test> & co", "80.0k (2.00×)", "failed", "0.35 KB (0.61×)", "lower is better", "higher is better"} {
		if !strings.Contains(all, w) {
			t.Errorf("chart lacks %q:\n%s", w, all)
		}
	}
	// Bars scale to the largest value of their section.
	if !strings.Contains(svg, `width="440.0"`) {
		t.Error("no full-width bar for the largest value")
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct{ got, want string }{
		{thousands(0), "0"},
		{thousands(999), "999"},
		{thousands(19000), "19,000"},
		{thousands(1234567), "1,234,567"},
		{thousands(-1000), "-1,000"},
		{humanCount(950), "950"},
		{humanCount(76712.4), "76.7k"},
		{humanCount(1.2e6), "1.20M"},
		{humanCount(math.NaN()), "–"},
		{latency(0), "–"},
		{latency(500), "500 ns"},
		{latency(45600), "45.6 µs"},
		{latency(1.234e6), "1.23 ms"},
		{latency(2e9), "2 s"},
		{times(1.1), "1.10×"},
		{times(math.NaN()), "–"},
		{fixed(math.Inf(1), 2), "–"},
		{mbf(1536), "1.5 MB"},
		{clip("abcdef", 4), "abc…"},
		{clip("abc", 4), "abc"},
		{oneLine("a\n  b | c"), "a b / c"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestSelected(t *testing.T) {
	tests := []struct {
		filter, name string
		want         bool
	}{
		{"", "echo-1k", true},
		{"echo", "echo-1k", true},
		{"echo", "echo-64", true},
		{"echo-1k", "echo-64", false},
		{"idle", "idle-http-max", true},
		{"idle-http", "idle-http-max", true},
		{"idle-http", "idle-tcp", false},
		{"http", "http-pipe16", true},
		{"http", "idle-http", false},
		{"goes, net", "net", true},
		{"goes,net", "nbio", false},
		{",", "net", false},
	}
	for _, tt := range tests {
		t.Run(tt.filter+"/"+tt.name, func(t *testing.T) {
			if got := selected(tt.filter, tt.name); got != tt.want {
				t.Errorf("selected(%q, %q) = %v", tt.filter, tt.name, got)
			}
		})
	}
}

func TestFlagsAndShapes(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		shapes []string
		svg    string
		err    bool
	}{
		{"defaults", nil, []string{"echo-1k", "echo-64", "echo-100x64", "echo-100x16", "http", "http-pipe16", "ws", "idle-tcp", "idle-http", "idle-ws", "proxy-1k", "proxy-64k", "proxy-stream", "proxy-redis", "idle-proxy"}, "", false},
		{"max point, no idle", []string{"-idle", "0", "-idle-max", "19000", "-idle-pairs", "0", "-pipeline", "8", "-out", "r.md"},
			[]string{"echo-1k", "echo-64", "echo-100x64", "echo-100x16", "http", "http-pipe8", "ws", "idle-tcp-max", "idle-http-max", "idle-ws-max", "proxy-1k", "proxy-64k", "proxy-stream", "proxy-redis"}, "r.svg", false},
		{"bad runs", []string{"-runs", "0"}, nil, "", true},
		{"bad sources", []string{"-src-addrs", "300"}, nil, "", true},
		{"stray argument", []string{"now"}, nil, "", true},
		{"unknown flag", []string{"-fast"}, nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseFlags(tt.args, io.Discard)
			if tt.err {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range cfg.allShapes() {
				names = append(names, s.Name)
			}
			if strings.Join(names, " ") != strings.Join(tt.shapes, " ") {
				t.Errorf("shapes %v, want %v", names, tt.shapes)
			}
			if cfg.svg != tt.svg {
				t.Errorf("svg %q, want %q", cfg.svg, tt.svg)
			}
		})
	}
}
