package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shunhui19/goes/core/timer"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// lockedBuffer is written by the demo's callbacks and read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestSchedule(t *testing.T) {
	const unit = 20 * time.Millisecond
	tm := timer.NewTimer(10, time.Millisecond)
	tm.Start()
	defer tm.Stop()

	var out lockedBuffer
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
