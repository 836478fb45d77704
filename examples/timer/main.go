// Command timer shows the timer, as in the manual: a task that runs once
// after 5 seconds, one that runs every 2 seconds, and one at 10 seconds that
// deletes the repeating task. It is also a server on 127.0.0.1:8080 (text
// protocol) that uses timers from its callbacks: every client is sent the
// time each second until it leaves.
//
//	go run ./examples/timer start
//	nc 127.0.0.1 8080
//
// GOES_ADDR overrides the address.
package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/core/timer"
	"github.com/shunhui19/goes/protocol/text"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func main() {
	addr := os.Getenv("GOES_ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	newGoer(addr, os.Stdout, time.Second).RunAll()
}

// newGoer builds the server; unit is a second in the real program.
func newGoer(addr string, out io.Writer, unit time.Duration) *core.Goer {
	// A wheel of 10 slots advancing every 100 ms: millisecond granularity.
	// For coarser work, timer.NewTimer(10, time.Second).
	t := timer.NewTimer(10, 100*time.Millisecond)

	g := core.NewGoer(addr, text.New(), "tcp")
	g.Name = "timer"
	g.OnStart = func(*core.Goer) {
		t.Start()
		schedule(t, out, unit)
	}
	g.OnStop = func(*core.Goer) { t.Stop() }

	// A timer per connection, added in OnConnect and deleted in OnClose.
	g.OnConnect = func(c core.Connection) {
		tc := c.(*core.TCPConnection)
		tc.UserData = t.Add(unit, func(args ...any) {
			c := args[0].(core.Connection)
			if err := c.Send(time.Now().Format("15:04:05"), false); err != nil {
				// A peer that reads nothing: stop (OnClose deletes its timer).
				g.Log().Warn("time not sent; closing", "remote", c.GetRemoteAddress(), "err", err)
				c.Close("")
			}
		}, c, true)
	}
	g.OnClose = func(c core.Connection) {
		t.Del(c.(*core.TCPConnection).UserData.(timer.TaskID))
	}
	return g
}

// schedule adds the demo's tasks to t, measuring intervals in units of unit
// (a second in the real program), and returns a channel closed once the
// last task has run. Lines go to out.
func schedule(t *timer.Timer, out io.Writer, unit time.Duration) <-chan struct{} {
	begin := time.Now()
	var mu sync.Mutex // tasks run in goroutines of their own
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
