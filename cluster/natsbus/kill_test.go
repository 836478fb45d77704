package natsbus_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shunhui19/goes/cluster"
	"github.com/shunhui19/goes/cluster/internal/testnode"
)

// childEnv carries the NATS URL to a child node.
const childEnv = "GOES_CLUSTER_TEST_CHILD"

// TestChildNode is the child of TestKilledNode: a node holding ten clients
// that lives until it is killed.
func TestChildNode(t *testing.T) {
	url := os.Getenv(childEnv)
	if url == "" {
		t.Skip("runs as a child process of TestKilledNode")
	}
	n, err := dialNode(url)
	must(t, err)
	s := testnode.Start(t, n)
	for range 10 {
		s.Dial(t)
	}
	fmt.Printf("ready %s\n", n.ID())
	time.Sleep(time.Minute) // the parent kills it long before
}

// TestKilledNode kills a node with SIGKILL (no goodbye): it leaves every
// answer at once and stops making them partial within PeerTimeout.
func TestKilledNode(t *testing.T) {
	srv := startNATS(t, "")
	a := newNode(t, srv.ClientURL())
	s := testnode.Start(t, a)
	s.Dial(t)
	s.Dial(t)
	// A third node keeps the query subject alive after the kill, so the
	// dead node is missed rather than known to be gone.
	b := newNode(t, srv.ClientURL())
	testnode.Start(t, b).Dial(t)

	cmd := exec.Command(os.Args[0], "-test.run=^TestChildNode$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+srv.ClientURL())
	out, err := cmd.StdoutPipe()
	must(t, err)
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- id
			}
		}
		close(ready)
	}()
	var child string
	select {
	case child = <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("the child node did not start")
	}
	testnode.Eventually(t, 5*time.Second, "the child's clients counted", func() bool {
		c, err := a.Count(bg)
		return err == nil && c == 13
	})

	must(t, cmd.Process.Signal(syscall.SIGKILL))
	cmd.Wait()
	killed := time.Now()
	// At once: the dead node's clients are out of the count, and the answer
	// says it is partial while the node is still expected.
	c, err := a.Count(bg)
	if c != 3 || err != nil && !errors.Is(err, cluster.ErrPartial) {
		t.Errorf("Count right after the kill = %d, %v; want 3", c, err)
	}
	t.Logf("right after the kill: %d, %v", c, err)
	// Within PeerTimeout (plus a heartbeat tick to notice): whole again.
	testnode.Eventually(t, 5*time.Second, "whole answers", func() bool {
		c, err := a.Count(bg)
		return err == nil && c == 3
	})
	// The promise is PeerTimeout and a heartbeat tick; one query that waited
	// for the dead node and a second of slack for a loaded machine on top.
	if d := time.Since(killed); d > peerTimeout+heartbeat+queryTimeout+time.Second {
		t.Errorf("the killed node was expected for %v; want at most PeerTimeout+Heartbeat (+ one query)", d)
	}
	for _, p := range a.Peers() {
		if p == child {
			t.Errorf("the killed node %s is still a peer", child)
		}
	}
}
