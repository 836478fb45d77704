package e2e

import (
	"net"
	"os"
	"strings"
	"testing"
)

// A release whose OnStart panics does not start: start and start -d fail
// with the panic's message, and a reload to it fails the same way while
// the running process keeps serving, on every listener.
func TestOnStartPanicFailsStartAndReload(t *testing.T) {
	dir := t.TempDir()
	v1 := buildReloadServer(t, dir, "v1", "")
	bad := buildReloadServer(t, dir, "v2", "onstart")
	s := newServer(t, dir, "5s")
	const panicMsg = "OnStart of this release is broken"
	c, r, first := s.startDaemon(t, v1, "v1")

	out, err := s.run(t, bad, "reload")
	if err == nil || !strings.Contains(out, panicMsg) || !strings.Contains(out, "keeps serving") {
		t.Fatalf("reload to a release whose OnStart panics: err %v, output:\n%s", err, out)
	}
	if got, err := ask(c, r, "after"); err != nil || got != first {
		t.Errorf("open connection after the failed reload: %q %v, want %q", got, err, first)
	}
	for _, got := range []string{askNew(t, "tcp", s.tcp), askNew(t, "unix", s.unix), askUDP(t, s.udp)} {
		if got != first {
			t.Errorf("new request answered by %s, want the old process %s", got, first)
		}
	}
	if events, _ := os.ReadFile(s.events); strings.Contains(string(events), "reload") {
		t.Errorf("OnReload ran in the old process:\n%s", events)
	}
	c.Close()
	s.must(t, v1, "stop")
	waitAllExited(t)

	for _, args := range [][]string{{"start"}, {"start", "-d"}} {
		out, err := s.run(t, bad, args...)
		if err == nil || !strings.Contains(out, panicMsg) {
			t.Errorf("%v of a release whose OnStart panics: err %v, output:\n%s", args, err, out)
		}
		if out, err := s.run(t, v1, "status"); err == nil {
			t.Fatalf("a server runs after the failed %v:\n%s", args, out)
		}
		// Nothing listens: the sockets were released.
		if c, err := net.Dial("tcp", s.tcp); err == nil {
			c.Close()
			t.Fatalf("%s accepts after the failed %v", s.tcp, args)
		}
	}
}
