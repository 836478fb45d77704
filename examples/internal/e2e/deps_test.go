package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// A program links only what it imports: the text server carries no HTTP
// or WebSocket code and no gobwas module, the chat carries both; only the
// chat, which serves metrics, carries Prometheus code.
func TestBinaryCarriesOnlyWhatItImports(t *testing.T) {
	for _, tc := range []struct {
		example string
		must    []string
		mustNot []string
	}{
		{"text", []string{"goes/core", "goes/protocol/text", "goes/transport/tcp"},
			[]string{"goes/protocol/http", "goes/protocol/websocket", "gobwas", "transport/udp", "goes/metrics", "prometheus", "goes/cluster", "nats-io"}},
		{"tcp", []string{"goes/core", "goes/transport/tcp"}, []string{"goes/metrics", "prometheus", "goes/cluster", "nats-io"}},
		{"chat", []string{"goes/protocol/websocket", "github.com/gobwas/ws", "goes/metrics", "github.com/prometheus/client_golang"}, []string{"goes/cluster", "nats-io"}},
		{"cluster", []string{"goes/cluster", "github.com/nats-io/nats.go", "github.com/nats-io/nats-server"}, []string{"goes/metrics", "prometheus"}},
	} {
		t.Run(tc.example, func(t *testing.T) {
			// Builds and reads their own binaries only: the four links
			// share the two cores rather than wait for each other.
			t.Parallel()
			bin := build(t, tc.example)
			out, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
			if err != nil {
				t.Fatalf("go version -m: %v\n%s", err, out)
			}
			deps := string(out)
			for _, m := range tc.must {
				if !strings.Contains(deps, m) {
					t.Errorf("%s lacks %s:\n%s", tc.example, m, deps)
				}
			}
			for _, m := range tc.mustNot {
				if strings.Contains(deps, m) {
					t.Errorf("%s carries %s:\n%s", tc.example, m, deps)
				}
			}
		})
	}
}
