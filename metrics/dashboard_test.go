package metrics_test

import (
	"encoding/json"
	"fmt"
	"io"
	nethttp "net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// dashboard is the Grafana dashboard shipped in examples/grafana.
const dashboard = "../examples/grafana/goes-dashboard.json"

// dashboardExprs returns the PromQL of every panel of the dashboard.
func dashboardExprs(t *testing.T) []string {
	b, err := os.ReadFile(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboard, err)
	}
	var exprs []string
	for _, p := range d.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	return exprs
}

// Every metric the dashboard queries is one the module exports, and with
// Grafana's variables filled in every query is valid PromQL.
func TestDashboard(t *testing.T) {
	exprs := dashboardExprs(t)
	s := newServer(t)
	resp, err := (&nethttp.Client{Timeout: 10 * time.Second}).Get("http://" + s.web + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wc, br := wsDial(t, s.ws)
	wc.Write(wsFrame(0x1, []byte("hi")))
	wsRead(t, br)
	wc.Write(wsFrame(0x8, []byte("\x03\xe8")))
	wsRead(t, br)
	// The server ends the TCP connection after the closing handshake; the
	// client closes its end at the EOF, as a peer does (else the server
	// waits CloseTimeout, 5 s, for it before the close is counted).
	if _, err := io.Copy(io.Discard, br); err != nil {
		t.Fatalf("after the closing handshake: %v", err)
	}
	wc.Close()
	f := eventually(t, s.scrape, "the WebSocket close counted", func(f families) bool {
		return f.value("goes_websocket_closes_total", "goer=ws", "code=1000") == 1
	})

	name := regexp.MustCompile(`\b(goes|go|process)_[a-z_]+\b`)
	for _, e := range exprs {
		for _, n := range name.FindAllString(e, -1) {
			base := n
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(n, suffix); ok && f[b] != nil {
					base = b
				}
			}
			if f[base] == nil {
				t.Errorf("the dashboard queries %s, which is not exported: %s", n, e)
			}
		}
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool not installed (Debian package prometheus); the queries' syntax is not checked")
		return
	}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	fill := strings.NewReplacer("$__rate_interval", "1m", "$goer", ".*", "$instance", ".*")
	for i, e := range exprs {
		fmt.Fprintf(&rules, "      - record: dashboard:query%d\n        expr: %q\n", i, fill.Replace(e))
	}
	file := filepath.Join(t.TempDir(), "rules.yml")
	if err := os.WriteFile(file, []byte(rules.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}
