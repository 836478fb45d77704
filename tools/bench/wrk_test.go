package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

const wrkKeepAlive = `Running 3s test @ http://127.0.0.1:8080/
  2 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.23ms  456.00us  12.34ms   89.00%
    Req/Sec    40.12k     2.34k   45.00k    70.00%
  Latency Distribution
     50%    1.10ms
     75%    1.50ms
     90%    2.00ms
     99%    4.00ms
  240123 requests in 3.00s, 30.00MB read
Requests/sec:  80041.00
Transfer/sec:     10.00MB
`

const wrkErrors = `Running 1s test @ http://127.0.0.1:8080/
  2 threads and 100 connections
  Latency Distribution
     50%  812.00us
     75%    1.02ms
     90%    1.50ms
     99%    1.20s
  51000 requests in 1.00m, 6.00MB read
  Socket errors: connect 3, read 4, write 0, timeout 12
  Non-2xx or 3xx responses: 7
Requests/sec:    850.00
Transfer/sec:      0.10MB
`

const wrkPipelined = `Running 1s test @ http://127.0.0.1:18999/
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     0.00us    0.00us   0.00us    -nan%
    Req/Sec     1.01k   146.19     1.27k    70.00%
  Latency Distribution
     50%    0.00us
     75%    0.00us
     90%    0.00us
     99%    0.00us
  1009 requests in 1.00s, 4.77MB read
Requests/sec:   1008.41
Transfer/sec:      4.77MB
`

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name    string
		out     string
		want    wrkResult
		wantErr bool
	}{
		{"keep-alive", wrkKeepAlive, wrkResult{requests: 240123, elapsed: 3 * time.Second, rps: 80041,
			p50: 1100 * time.Microsecond, p99: 4 * time.Millisecond, haveLatPc: true}, false},
		{"errors", wrkErrors, wrkResult{requests: 51000, elapsed: time.Minute, rps: 850,
			p50: 812 * time.Microsecond, p99: 1200 * time.Millisecond, sockErrs: 19, non2xx: 7, haveLatPc: true}, false},
		{"pipelined zeros", wrkPipelined, wrkResult{requests: 1009, elapsed: time.Second, rps: 1008.41, haveLatPc: true}, false},
		{"no latency", strings.Replace(wrkKeepAlive, "Latency Distribution", "", 1), wrkResult{requests: 240123,
			elapsed: 3 * time.Second, rps: 80041}, false},
		{"empty", "", wrkResult{}, true},
		{"connection refused", "unable to connect to 127.0.0.1:1 Connection refused\n", wrkResult{}, true},
		{"no rate", strings.Replace(wrkKeepAlive, "Requests/sec:  80041.00", "", 1), wrkResult{}, true},
		{"bad count", strings.Replace(wrkKeepAlive, "240123 requests", "2x0 requests", 1), wrkResult{}, true},
		{"bad unit", strings.Replace(wrkKeepAlive, "4.00ms", "4.00parsecs", 1), wrkResult{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWrk(tt.out)
			if tt.wantErr {
				if !errors.Is(err, errWrkOutput) {
					t.Fatalf("err = %v, want errWrkOutput", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseWrkDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"812.00us", 812 * time.Microsecond, true},
		{"1.50ms", 1500 * time.Microsecond, true},
		{"2.00s", 2 * time.Second, true},
		{"1.00m", time.Minute, true},
		{"1h", time.Hour, true},
		{"12", 0, false},
		{"-1ms", 0, false},
		{"ms", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseWrkDuration(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("parseWrkDuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestWrkArgs(t *testing.T) {
	tests := []struct {
		name   string
		d      time.Duration
		script string
		want   []string
	}{
		{"keep-alive", 3 * time.Second, "", []string{"-t2", "-c100", "-d3s", "--timeout", "5s", "--latency", "http://127.0.0.1:9/"}},
		{"at least a second", 300 * time.Millisecond, "", []string{"-t2", "-c100", "-d1s", "--timeout", "5s", "--latency", "http://127.0.0.1:9/"}},
		{"script", 2500 * time.Millisecond, "/tmp/p.lua", []string{"-t2", "-c100", "-d3s", "--timeout", "5s", "--latency", "-s", "/tmp/p.lua", "http://127.0.0.1:9/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wrkArgs("127.0.0.1:9", 2, 100, tt.d, tt.script); !slices.Equal(got, tt.want) {
				t.Errorf("wrkArgs = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPipelineScript(t *testing.T) {
	s := pipelineScript(16)
	for _, want := range []string{"for i = 1, 16 do", `wrk.format(nil, "/")`, "table.concat(r)", "request = function()"} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
}
