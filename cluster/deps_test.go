package cluster_test

import (
	"os/exec"
	"strings"
	"testing"
)

// A program that uses the node alone links no NATS code, and one that
// dials NATS does not link the server.
func TestDependencies(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	for _, tc := range []struct {
		pkg     string
		mustNot string
	}{
		{"github.com/shunhui19/goes/cluster", "github.com/nats-io/"},
		{"github.com/shunhui19/goes/cluster/natsbus", "github.com/nats-io/nats-server"},
	} {
		out, err := exec.Command("go", "list", "-deps", tc.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list: %v\n%s", err, out)
		}
		if strings.Contains(string(out), tc.mustNot) {
			t.Errorf("%s depends on %s", tc.pkg, tc.mustNot)
		}
	}
}
