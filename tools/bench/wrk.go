package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what one wrk run reported.
type wrkResult struct {
	requests  uint64
	elapsed   time.Duration
	rps       float64
	p50, p99  time.Duration
	sockErrs  uint64 // connect + read + write + timeout errors
	non2xx    uint64
	haveLatPc bool // the latency distribution was printed
}

// pipelineScript makes every request wrk sends a batch of depth requests.
func pipelineScript(depth int) string {
	return fmt.Sprintf(`-- %d pipelined GET requests per write
init = function(args)
  local r = {}
  for i = 1, %d do
    r[i] = wrk.format(nil, "/")
  end
  req = table.concat(r)
end
request = function()
  return req
end
`, depth, depth)
}

// wrkArgs builds the command line for a run against addr.
func wrkArgs(addr string, threads, conns int, d time.Duration, script string) []string {
	secs := int(math.Round(d.Seconds()))
	if secs < 1 {
		secs = 1 // wrk counts whole seconds
	}
	args := []string{
		"-t" + strconv.Itoa(threads), "-c" + strconv.Itoa(conns),
		"-d" + strconv.Itoa(secs) + "s", "--timeout", "5s", "--latency",
	}
	if script != "" {
		args = append(args, "-s", script)
	}
	return append(args, "http://"+addr+"/")
}

// runWrk runs wrk with a hard time limit. pipeline > 1 sends that many
// requests per batch.
func runWrk(ctx context.Context, wrk, addr string, threads, conns int, d time.Duration, pipeline int) (wrkResult, error) {
	script := ""
	if pipeline > 1 {
		dir, err := os.MkdirTemp("", "bench-wrk")
		if err != nil {
			return wrkResult{}, err
		}
		defer os.RemoveAll(dir)
		script = filepath.Join(dir, "pipeline.lua")
		if err := os.WriteFile(script, []byte(pipelineScript(pipeline)), 0o600); err != nil {
			return wrkResult{}, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wrk, wrkArgs(addr, threads, conns, d, script)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return parseWrk(string(out))
}

var errWrkOutput = errors.New("bench: unrecognised wrk output")

// parseWrk reads wrk's summary (run with --latency).
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	var haveRPS, haveCount bool
	inDist := false
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "Latency Distribution"):
			inDist = true
		case inDist && len(f) == 2 && strings.HasSuffix(f[0], "%"):
			d, err := parseWrkDuration(f[1])
			if err != nil {
				return r, err
			}
			switch f[0] {
			case "50%", "50.000%":
				r.p50 = d
				r.haveLatPc = true
			case "99%", "99.000%":
				r.p99 = d
			}
		case len(f) >= 5 && f[1] == "requests" && f[2] == "in":
			inDist = false
			n, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				return r, fmt.Errorf("%w: %q", errWrkOutput, line)
			}
			d, err := parseWrkDuration(strings.TrimSuffix(f[3], ","))
			if err != nil {
				return r, err
			}
			r.requests, r.elapsed, haveCount = n, d, true
		case strings.HasPrefix(line, "Requests/sec:") && len(f) == 2:
			v, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				return r, fmt.Errorf("%w: %q", errWrkOutput, line)
			}
			r.rps, haveRPS = v, true
		case strings.HasPrefix(line, "Socket errors:"):
			// Socket errors: connect 0, read 0, write 0, timeout 0
			for i := 2; i+1 < len(f); i += 2 {
				n, err := strconv.ParseUint(strings.TrimSuffix(f[i+1], ","), 10, 64)
				if err != nil {
					return r, fmt.Errorf("%w: %q", errWrkOutput, line)
				}
				r.sockErrs += n
			}
		case strings.HasPrefix(line, "Non-2xx or 3xx responses:") && len(f) == 5:
			n, err := strconv.ParseUint(f[4], 10, 64)
			if err != nil {
				return r, fmt.Errorf("%w: %q", errWrkOutput, line)
			}
			r.non2xx = n
		}
	}
	if !haveRPS || !haveCount {
		return r, fmt.Errorf("%w: no request count or rate", errWrkOutput)
	}
	return r, nil
}

// parseWrkDuration reads wrk's units: us, ms, s, m, h.
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil || v < 0 {
				return 0, fmt.Errorf("%w: duration %q", errWrkOutput, s)
			}
			return time.Duration(v * float64(u.unit)), nil
		}
	}
	return 0, fmt.Errorf("%w: duration %q", errWrkOutput, s)
}
