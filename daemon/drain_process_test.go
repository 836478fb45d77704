//go:build unix

package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// While the old process of a reload finishes its connections, status lists
// it (its pid, its connections, [draining]) under the new one, and so does
// connections (each of its connections, under its pid); it refuses
// stop and reload on its own socket; once it exits it is gone from the
// listing, and its socket with it.
func TestProcessStatusListsDraining(t *testing.T) {
	v1, v2 := binary(t, "v1"), binary(t, "v2")
	w := newWorld(t, "TESTSERVER_GRACE=20s")
	w.must(v1, "start", "-d", "-q")
	oldPid := w.pid()
	var olds []*client
	for i := range 3 {
		c := dial(t, w.addr())
		mustAsk(t, c, fmt.Sprint("a", i))
		olds = append(olds, c)
	}
	w.must(v2, "reload")
	newPid := w.pid()
	fresh := dial(t, w.addr())
	mustAsk(t, fresh, "b")

	out := w.must(v2, "status").stdout
	if !strings.Contains(out, "draining after a reload: 1 old process   3 connections") {
		t.Fatalf("status during the drain:\n%s", out)
	}
	row := regexp.MustCompile(fmt.Sprintf(`(?m)^%d\s.*\s3\s.*\[draining\]$`, oldPid))
	if !row.MatchString(out) {
		t.Fatalf("no draining row for pid %d with 3 connections:\n%s", oldPid, out)
	}
	if !regexp.MustCompile(fmt.Sprintf(`(?m)^%d\s.*\s1\s.*\[running\]$`, newPid)).MatchString(out) {
		t.Fatalf("no row for the new process %d with 1 connection:\n%s", newPid, out)
	}
	// connections lists the new process's connection, then the old one's
	// under its pid.
	out = w.must(v2, "connections").stdout
	mine, theirs, ok := strings.Cut(out, fmt.Sprintf("draining after a reload: pid %d\n", oldPid))
	if !ok || !strings.Contains(mine, fresh.c.LocalAddr().String()) || !strings.HasSuffix(mine, "1 connections\n\n") ||
		!strings.HasSuffix(theirs, "3 connections\n") {
		t.Fatalf("connections during the drain:\n%s", out)
	}
	for _, c := range olds {
		if !strings.Contains(theirs, c.c.LocalAddr().String()) || strings.Contains(mine, c.c.LocalAddr().String()) {
			t.Fatalf("old connection %s not listed under pid %d:\n%s", c.c.LocalAddr(), oldPid, out)
		}
	}
	// The draining socket takes no orders.
	resp, err := callPath(drainPath(w.pidFile, oldPid), request{Cmd: "stop"}, 2*time.Second)
	if err != nil || resp.OK || !strings.Contains(resp.Error, "after a reload") {
		t.Fatalf("stop on the draining socket: %+v %v", resp, err)
	}
	if v, p := mustAsk(t, olds[0], "still"); v != "v1" || p != oldPid {
		t.Fatalf("old connection answered by %s %d", v, p)
	}

	for _, c := range olds {
		c.c.Close()
	}
	waitGone(t, oldPid, 10*time.Second)
	out = w.must(v2, "status").stdout
	if strings.Contains(out, "draining") || strings.Contains(out, fmt.Sprint(oldPid)) {
		t.Fatalf("status after the old process ended:\n%s", out)
	}
	if out = w.must(v2, "connections").stdout; strings.Contains(out, "draining") {
		t.Fatalf("connections after the old process ended:\n%s", out)
	}
	if left, _ := filepath.Glob(w.pidFile + ".sock.draining.*"); len(left) != 0 {
		t.Fatalf("draining sockets left: %v", left)
	}
	w.must(v2, "stop")
	waitGone(t, newPid, 5*time.Second)
}

// A draining socket left by a process that was killed is removed by the
// next status, which lists nothing for it.
func TestProcessStatusDropsStaleDraining(t *testing.T) {
	v1 := binary(t, "v1")
	w := newWorld(t)
	w.must(v1, "start", "-d", "-q")
	pid := w.pid()
	stale := drainPath(w.pidFile, 999999999)
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out := w.must(v1, "status").stdout
	if strings.Contains(out, "draining") {
		t.Fatalf("status listed a stale draining socket:\n%s", out)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("stale draining socket not removed: %v", err)
	}
	w.must(v1, "stop")
	waitGone(t, pid, 5*time.Second)
}
