package metrics_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The exposition passes promtool's checks.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus); skipping the exposition check")
	}
	s := newServer(t)
	resp, err := (&nethttp.Client{Timeout: 10 * time.Second}).Get("http://" + s.scrape + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// A real Prometheus server scrapes the endpoint and answers a query for
// goes_connections_open with the number of connections held open.
func TestPrometheusScrapes(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (Debian package prometheus); skipping the real-server test")
	}
	s := newServer(t)
	const open = 3
	for i := 0; i < open; i++ {
		c, err := net.Dial("tcp", s.echo)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}

	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: goes
    metrics_path: /metrics
    static_configs:
      - targets: [%q]
`, s.scrape)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	web := freePort(t)
	var log bytes.Buffer
	cmd := exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+web,
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()

	query := "http://" + web + "/api/v1/query?query=" + url.QueryEscape(`goes_connections_open{goer="echo",job="goes"}`)
	cl := &nethttp.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		resp, err := cl.Get(query)
		if err != nil {
			last = err.Error()
			continue
		}
		var r struct {
			Status string `json:"status"`
			Data   struct {
				Result []struct {
					Metric map[string]string `json:"metric"`
					Value  [2]any            `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil {
			last = err.Error()
			continue
		}
		last = fmt.Sprintf("%+v", r)
		if r.Status == "success" && len(r.Data.Result) == 1 && r.Data.Result[0].Value[1] == fmt.Sprint(open) {
			if m := r.Data.Result[0].Metric; m["transport"] != "tcp" || m["protocol"] != "text" || m["instance"] != s.scrape {
				t.Fatalf("series labels %v", m)
			}
			return
		}
	}
	t.Fatalf("Prometheus never reported goes_connections_open = %d; last answer: %s\nits log:\n%s", open, last, strings.TrimSpace(log.String()))
}
