package main

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shunhui19/goes/core/timer"
	"github.com/shunhui19/goes/examples/internal/testutil"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestSchedule(t *testing.T) {
	const unit = 20 * time.Millisecond
	tm := timer.NewTimer(10, time.Millisecond)
	tm.Start()
	defer tm.Stop()

	var out testutil.SyncBuffer
	select {
	case <-schedule(tm, &out, unit):
	case <-time.After(10*unit + 5*time.Second):
		t.Fatalf("demo did not finish; output so far:\n%s", out.String())
	}
	// Nothing repeats after the delete.
	time.Sleep(3 * unit)
	got := out.String()
	lines := strings.Split(strings.TrimSpace(got), "\n")

	if n := strings.Count(got, "after 5 second to run"); n != 1 {
		t.Errorf("one-shot task ran %d times, want 1:\n%s", n, got)
	}
	// Runs at 2, 4, 6 and 8 units; one at 10 races with the delete.
	if n := strings.Count(got, "every 2 second to run"); n < 4 || n > 5 {
		t.Errorf("repeating task ran %d times, want 4 or 5:\n%s", n, got)
	}
	if last := lines[len(lines)-1]; !strings.HasSuffix(last, "deleted the every-2-second task: true") {
		t.Errorf("last line %q, want the delete's result:\n%s", last, got)
	}
}

// The server pushes the time to each client from a per-connection timer and
// forgets the timer when the client leaves.
func TestServerTimers(t *testing.T) {
	var out testutil.SyncBuffer
	g := newGoer("127.0.0.1:0", &out, 50*time.Millisecond)
	g.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	defer g.Stop()
	c, err := net.Dial("tcp", g.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	for i := 0; i < 3; i++ {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if _, err := time.Parse("15:04:05\n", line); err != nil {
			t.Fatalf("tick %d: %q", i, line)
		}
	}
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for g.Connections.Len() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if g.Connections.Len() != 0 {
		t.Fatal("connection not closed")
	}
	// The demo tasks ran too.
	for !strings.Contains(out.String(), "deleted the every-2-second task: true") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(out.String(), "deleted the every-2-second task: true") {
		t.Fatalf("demo output:\n%s", out.String())
	}
}
