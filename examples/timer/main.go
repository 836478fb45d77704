// Command timer shows the timer: a task that runs once after 5 seconds, one
// that runs every 2 seconds, and one at 10 seconds that deletes the
// repeating task. It exits when the demo is over or on Ctrl+C.
//
//	go run ./timer
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/shunhui19/goes/core/timer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// A wheel of 10 slots advancing every second: second granularity.
	// For millisecond work use e.g. timer.NewTimer(10, 100*time.Millisecond).
	t := timer.NewTimer(10, time.Second)
	t.Start()
	defer t.Stop()

	done := schedule(t, os.Stdout, time.Second)
	select {
	case <-done:
	case <-ctx.Done():
		fmt.Println("interrupted")
	}
}

// schedule adds the demo's tasks to t, measuring intervals in units of unit
// (a second in the real program), and returns a channel closed once the
// last task has run. Lines go to out.
func schedule(t *timer.Timer, out io.Writer, unit time.Duration) <-chan struct{} {
	begin := time.Now()
	var mu sync.Mutex // callbacks run in goroutines of their own
	print := func(args ...any) {
		mu.Lock()
		defer mu.Unlock()
		elapsed := time.Since(begin) / unit
		fmt.Fprintln(out, append([]any{fmt.Sprintf("[%2d]", elapsed)}, args...)...)
	}

	// Once, after 5 seconds; fn gets the args given to Add.
	t.Add(5*unit, func(args ...any) { print(args...) }, "after 5 second to run", false)

	// Every 2 seconds until deleted.
	every := t.Add(2*unit, func(args ...any) { print(args...) }, "every 2 second to run", true)

	// At 10 seconds, delete the repeating task.
	done := make(chan struct{})
	t.Add(10*unit, func(...any) {
		print("deleted the every-2-second task:", t.Del(every))
		close(done)
	}, nil, false)
	return done
}
