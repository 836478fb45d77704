package timer_test

import (
	"bytes"
	"log/slog"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shunhui19/goes/core/timer"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// slack is how late a task may run on a loaded machine before a test calls
// it a failure. Lower bounds are asserted exactly.
const slack = 2 * time.Second

// started returns a started timer that is stopped when the test ends.
func started(t *testing.T, slots int, tick time.Duration) *timer.Timer {
	t.Helper()
	tm := timer.NewTimer(slots, tick)
	tm.Start()
	t.Cleanup(tm.Stop)
	return tm
}

// waitFor polls cond until it holds or the slack runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(slack)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// recv waits for a value from ch for at most the slack.
func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	return recvWithin(t, ch, what, slack)
}

// recvWithin is recv with a wait of d.
func recvWithin[T any](t *testing.T, ch <-chan T, what string, d time.Duration) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func TestOnce(t *testing.T) {
	tm := started(t, 10, 10*time.Millisecond)
	const interval = 50 * time.Millisecond
	fired := make(chan time.Duration, 4)
	begin := time.Now()
	id := tm.Add(interval, func(...any) { fired <- time.Since(begin) }, nil, false)
	if id == 0 {
		t.Fatal("Add returned the zero TaskID")
	}
	if got := tm.Len(); got != 1 {
		t.Fatalf("Len = %d, want 1", got)
	}
	elapsed := recv(t, fired, "the task")
	if elapsed < interval {
		t.Fatalf("ran after %v, before its interval %v", elapsed, interval)
	}
	// A one-shot task runs once.
	time.Sleep(5 * interval)
	if n := len(fired); n != 0 {
		t.Fatalf("one-shot task ran %d more times", n)
	}
	if got := tm.Len(); got != 0 {
		t.Fatalf("Len after run = %d, want 0", got)
	}
	if tm.Del(id) {
		t.Fatal("Del of a finished one-shot task returned true")
	}
}

func TestPersistent(t *testing.T) {
	tm := started(t, 10, 5*time.Millisecond)
	const interval = 20 * time.Millisecond
	var runs atomic.Int64
	fired := make(chan time.Duration, 64)
	begin := time.Now()
	id := tm.Add(interval, func(...any) {
		runs.Add(1)
		select {
		case fired <- time.Since(begin):
		default:
		}
	}, nil, true)
	// The n-th run is due n intervals after Add: a fixed rate, never early.
	for n := 1; n <= 5; n++ {
		elapsed := recv(t, fired, "a persistent run")
		if min := time.Duration(n) * interval; elapsed < min {
			t.Fatalf("run %d after %v, want >= %v", n, elapsed, min)
		}
	}
	if !tm.Del(id) {
		t.Fatal("Del of a persistent task returned false")
	}
	if tm.Del(id) {
		t.Fatal("second Del returned true")
	}
	// A run that had begun before Del may still finish; none starts after.
	atDel := runs.Load()
	time.Sleep(3 * interval)
	settled := runs.Load()
	if settled > atDel+1 {
		t.Fatalf("%d runs after Del", settled-atDel)
	}
	time.Sleep(5 * interval)
	if got := runs.Load(); got != settled {
		t.Fatalf("runs went on after Del: %d, then %d", settled, got)
	}
}

func TestDel(t *testing.T) {
	t.Run("before fire", func(t *testing.T) {
		tm := started(t, 10, 5*time.Millisecond)
		var ran atomic.Bool
		id := tm.Add(30*time.Millisecond, func(...any) { ran.Store(true) }, nil, false)
		if !tm.Del(id) {
			t.Fatal("Del of a pending task returned false")
		}
		if tm.Del(id) {
			t.Fatal("second Del returned true")
		}
		time.Sleep(100 * time.Millisecond)
		if ran.Load() {
			t.Fatal("deleted task ran")
		}
	})
	t.Run("unknown id", func(t *testing.T) {
		tm := started(t, 10, 5*time.Millisecond)
		for _, id := range []timer.TaskID{0, -1, 1, 12345} {
			if tm.Del(id) {
				t.Fatalf("Del(%d) on an empty timer returned true", id)
			}
		}
		var zero timer.Timer
		if zero.Del(1) {
			t.Fatal("Del on a zero Timer returned true")
		}
	})
	t.Run("persistent deletes itself", func(t *testing.T) {
		tm := started(t, 10, 5*time.Millisecond)
		var runs atomic.Int64
		idc := make(chan timer.TaskID, 1)
		result := make(chan bool, 1)
		id := tm.Add(10*time.Millisecond, func(...any) {
			if runs.Add(1) == 3 {
				result <- tm.Del(<-idc)
			}
		}, nil, true)
		idc <- id
		if !recv(t, result, "the self-deleting run") {
			t.Fatal("Del of itself from the callback returned false")
		}
		time.Sleep(60 * time.Millisecond)
		if got := runs.Load(); got != 3 {
			t.Fatalf("runs = %d, want 3", got)
		}
	})
	t.Run("one-shot deletes itself and another", func(t *testing.T) {
		tm := started(t, 10, 5*time.Millisecond)
		var otherRuns atomic.Int64
		other := tm.Add(10*time.Millisecond, func(...any) { otherRuns.Add(1) }, nil, true)
		idc := make(chan timer.TaskID, 1)
		result := make(chan [2]bool, 1)
		idc <- tm.Add(15*time.Millisecond, func(...any) {
			self := <-idc
			result <- [2]bool{tm.Del(self), tm.Del(other)}
		}, nil, false)
		got := recv(t, result, "the one-shot task")
		if got[0] {
			t.Fatal("a running one-shot task's Del of itself returned true")
		}
		if !got[1] {
			t.Fatal("Del of a persistent task from another callback returned false")
		}
		settled := otherRuns.Load()
		time.Sleep(60 * time.Millisecond)
		if n := otherRuns.Load(); n > settled+1 {
			t.Fatalf("deleted task ran %d more times", n-settled)
		}
		if tm.Len() != 0 {
			t.Fatalf("Len = %d, want 0", tm.Len())
		}
	})
}

func TestArgs(t *testing.T) {
	var nilPtr *int
	tests := []struct {
		name string
		args any
		want []any
	}{
		{"nil means no argument", nil, []any{}},
		{"string", "after 5 second to run", []any{"after 5 second to run"}},
		{"int", 42, []any{42}},
		{"slice is one argument", []any{1, 2}, []any{[]any{1, 2}}},
		{"typed nil is an argument", nilPtr, []any{nilPtr}},
	}
	tm := started(t, 10, 5*time.Millisecond)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan []any, 1)
			tm.Add(5*time.Millisecond, func(args ...any) { got <- args }, tt.args, false)
			args := recv(t, got, "the task")
			if len(args) != len(tt.want) {
				t.Fatalf("got %d args %#v, want %#v", len(args), args, tt.want)
			}
			for i := range args {
				if !equalArg(args[i], tt.want[i]) {
					t.Fatalf("arg %d = %#v, want %#v", i, args[i], tt.want[i])
				}
			}
		})
	}
}

func equalArg(a, b any) bool {
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if aok || bok {
		if !aok || !bok || len(as) != len(bs) {
			return false
		}
		for i := range as {
			if as[i] != bs[i] {
				return false
			}
		}
		return true
	}
	return a == b
}

// TestGranularity checks tasks at many intervals, within and beyond one turn
// of the wheel, never run early and run reasonably on time.
func TestGranularity(t *testing.T) {
	tests := []struct {
		slots     int
		tick      time.Duration
		intervals []time.Duration
	}{
		{10, time.Millisecond, []time.Duration{time.Millisecond, 3 * time.Millisecond, 9 * time.Millisecond, 25 * time.Millisecond, 130 * time.Millisecond}},
		{10, 10 * time.Millisecond, []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 35 * time.Millisecond, 99 * time.Millisecond, 250 * time.Millisecond}},
		{10, 100 * time.Millisecond, []time.Duration{50 * time.Millisecond, 150 * time.Millisecond, 1100 * time.Millisecond}},
		{10, time.Second, []time.Duration{time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.tick.String(), func(t *testing.T) {
			tm := started(t, tt.slots, tt.tick)
			type result struct {
				interval, elapsed time.Duration
			}
			results := make(chan result, len(tt.intervals))
			for _, iv := range tt.intervals {
				begin := time.Now()
				tm.Add(iv, func(args ...any) {
					results <- result{args[0].(time.Duration), time.Since(begin)}
				}, iv, false)
			}
			// The last task is due a tick after its interval at the latest.
			within := tt.intervals[len(tt.intervals)-1] + tt.tick + slack
			for range tt.intervals {
				r := recvWithin(t, results, "a task", within)
				if r.elapsed < r.interval {
					t.Errorf("interval %v: ran after %v, early", r.interval, r.elapsed)
				}
				// Due within a tick (plus a millisecond of rounding) after
				// the interval; the slack absorbs a loaded machine.
				if max := r.interval + tt.tick + time.Millisecond + slack; r.elapsed > max {
					t.Errorf("interval %v: ran after %v, later than %v", r.interval, r.elapsed, max)
				}
			}
		})
	}
}

func TestNonPositiveIntervalIsOneTick(t *testing.T) {
	const tick = 20 * time.Millisecond
	tm := started(t, 10, tick)
	for _, iv := range []time.Duration{0, -time.Second} {
		t.Run(iv.String(), func(t *testing.T) {
			fired := make(chan time.Duration, 1)
			begin := time.Now()
			tm.Add(iv, func(...any) { fired <- time.Since(begin) }, nil, false)
			if elapsed := recv(t, fired, "the task"); elapsed < tick {
				t.Fatalf("ran after %v, before one tick %v", elapsed, tick)
			}
		})
	}
}

func TestAddBeforeStartCountsFromStart(t *testing.T) {
	tm := timer.NewTimer(10, 5*time.Millisecond)
	defer tm.Stop()
	const interval = 40 * time.Millisecond
	fired := make(chan time.Time, 1)
	tm.Add(interval, func(...any) { fired <- time.Now() }, nil, false)
	time.Sleep(2 * interval)
	select {
	case <-fired:
		t.Fatal("task ran before Start")
	default:
	}
	startedAt := time.Now()
	tm.Start()
	tm.Start() // a second Start does nothing
	if ranAt := recv(t, fired, "the task"); ranAt.Sub(startedAt) < interval {
		t.Fatalf("ran %v after Start, want >= %v", ranAt.Sub(startedAt), interval)
	}
}

func TestZeroTimer(t *testing.T) {
	var tm timer.Timer
	defer tm.Stop()
	tm.Start()
	fired := make(chan struct{})
	tm.Add(10*time.Millisecond, func(...any) { close(fired) }, nil, false)
	recv(t, fired, "the task")
}

func TestAddNilFuncPanics(t *testing.T) {
	tm := timer.NewTimer(10, time.Second)
	defer tm.Stop()
	defer func() {
		if recover() == nil {
			t.Fatal("Add with a nil function did not panic")
		}
	}()
	tm.Add(time.Second, nil, nil, false)
}

// lockedBuffer is a log destination safe for concurrent writes.
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

func TestPanicRecovered(t *testing.T) {
	var logs lockedBuffer
	tm := timer.NewTimer(10, 5*time.Millisecond)
	tm.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	tm.Start()
	defer tm.Stop()

	var runs atomic.Int64
	done := make(chan struct{})
	id := tm.Add(10*time.Millisecond, func(...any) {
		switch runs.Add(1) {
		case 1:
			panic("boom in a timer task")
		case 3:
			close(done)
		}
	}, nil, true)
	// The persistent task keeps its schedule after the panic.
	recv(t, done, "runs after the panic")
	tm.Del(id)

	out := logs.String()
	for _, want := range []string{"goes: timer task panicked", "boom in a timer task", "stack=", "TestPanicRecovered"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestOverlappingRunsAreSkipped(t *testing.T) {
	tm := started(t, 10, time.Millisecond)
	const (
		interval = 5 * time.Millisecond
		work     = 40 * time.Millisecond
		window   = 300 * time.Millisecond
	)
	var running, maxRunning, runs atomic.Int64
	var stopped atomic.Bool
	id := tm.Add(interval, func(...any) {
		if stopped.Load() {
			return
		}
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		runs.Add(1)
		time.Sleep(work)
	}, nil, true)
	time.Sleep(window)
	stopped.Store(true)
	tm.Del(id)
	// Del does not wait for a run in progress; let it finish.
	waitFor(t, "the last run to finish", func() bool { return running.Load() == 0 })
	if got := maxRunning.Load(); got != 1 {
		t.Fatalf("%d runs of one task at once, want 1", got)
	}
	if got, limit := runs.Load(), int64(window/work)+1; got > limit || got < 1 {
		t.Fatalf("%d runs in %v of %v work, want 1..%d", got, window, work, limit)
	}
}

// TestConcurrentAddDel races Add and Del from several goroutines, and from
// inside callbacks, and checks that exactly the tasks not deleted ran.
func TestConcurrentAddDel(t *testing.T) {
	tm := started(t, 8, time.Millisecond)
	const (
		workers = 8
		perWork = 200
	)
	type outcome struct {
		id      timer.TaskID
		deleted bool
	}
	var ran sync.Map // TaskID -> struct{}
	var persistentRuns atomic.Int64
	outcomes := make(chan outcome, workers*perWork)
	var persistent []timer.TaskID
	var pmu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rng := rand.New(rand.NewSource(seed))
			for i := 0; i < perWork; i++ {
				if i%20 == 0 {
					id := tm.Add(time.Duration(1+rng.Intn(5))*time.Millisecond, func(...any) {
						persistentRuns.Add(1)
						// A callback adding and deleting tasks of its own.
						tm.Del(tm.Add(time.Hour, func(...any) {}, nil, false))
					}, nil, true)
					pmu.Lock()
					persistent = append(persistent, id)
					pmu.Unlock()
					continue
				}
				idc := make(chan timer.TaskID, 1)
				id := tm.Add(time.Duration(rng.Intn(20))*time.Millisecond, func(...any) {
					ran.Store(<-idc, struct{}{})
				}, nil, false)
				idc <- id
				deleted := false
				if rng.Intn(2) == 0 {
					deleted = tm.Del(id)
				}
				outcomes <- outcome{id, deleted}
			}
		}(int64(w))
	}
	wg.Wait()
	close(outcomes)

	var want []timer.TaskID
	for o := range outcomes {
		if o.deleted {
			if _, ok := ran.Load(o.id); ok {
				t.Fatalf("task %d ran though Del returned true", o.id)
			}
			continue
		}
		want = append(want, o.id)
	}
	waitFor(t, "every task not deleted to run", func() bool {
		for _, id := range want {
			if _, ok := ran.Load(id); !ok {
				return false
			}
		}
		return true
	})
	waitFor(t, "persistent tasks to run", func() bool { return persistentRuns.Load() > 0 })
	for _, id := range persistent {
		if !tm.Del(id) {
			t.Fatalf("Del of persistent task %d returned false", id)
		}
	}
	waitFor(t, "the timer to drain", func() bool { return tm.Len() == 0 })
}

func TestStop(t *testing.T) {
	t.Run("pending tasks never run", func(t *testing.T) {
		tm := timer.NewTimer(10, time.Millisecond)
		tm.Start()
		var ran atomic.Int64
		// Due well after Stop even when adding them is slow (a loaded
		// machine under -race took over 20 ms for the 100 Adds).
		const due = 300 * time.Millisecond
		start := time.Now()
		for i := 0; i < 100; i++ {
			tm.Add(due, func(...any) { ran.Add(1) }, nil, i%2 == 0)
		}
		tm.Stop()
		if time.Since(start) >= due {
			t.Skipf("adding 100 tasks and stopping took %v, longer than their delay", time.Since(start))
		}
		time.Sleep(due + 100*time.Millisecond)
		if n := ran.Load(); n != 0 {
			t.Fatalf("%d tasks ran after Stop", n)
		}
		if tm.Len() != 0 {
			t.Fatalf("Len after Stop = %d", tm.Len())
		}
		goleak.VerifyNone(t)
	})
	t.Run("idempotent and concurrent", func(t *testing.T) {
		tm := timer.NewTimer(10, time.Millisecond)
		tm.Start()
		tm.Add(time.Millisecond, func(...any) {}, nil, true)
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tm.Stop()
			}()
		}
		wg.Wait()
		tm.Stop()
		goleak.VerifyNone(t)
	})
	t.Run("Add and Del after Stop", func(t *testing.T) {
		tm := timer.NewTimer(10, time.Millisecond)
		tm.Start()
		id := tm.Add(time.Hour, func(...any) {}, nil, false)
		tm.Stop()
		if tm.Del(id) {
			t.Fatal("Del after Stop returned true")
		}
		var ran atomic.Bool
		if got := tm.Add(time.Millisecond, func(...any) { ran.Store(true) }, nil, false); got != 0 {
			t.Fatalf("Add after Stop returned %d, want 0", got)
		}
		tm.Start() // does not restart
		time.Sleep(20 * time.Millisecond)
		if ran.Load() {
			t.Fatal("task added after Stop ran")
		}
		goleak.VerifyNone(t)
	})
	t.Run("never started", func(t *testing.T) {
		tm := timer.NewTimer(10, time.Millisecond)
		tm.Add(time.Millisecond, func(...any) {}, nil, false)
		tm.Stop()
		tm.Stop()
	})
	t.Run("from a callback", func(t *testing.T) {
		tm := timer.NewTimer(10, time.Millisecond)
		tm.Start()
		returned := make(chan struct{})
		tm.Add(5*time.Millisecond, func(...any) {
			tm.Stop()
			close(returned)
		}, nil, false)
		recv(t, returned, "Stop from a callback to return")
		tm.Stop()
		goleak.VerifyNone(t)
	})
	t.Run("racing Add and Del", func(t *testing.T) {
		for round := 0; round < 20; round++ {
			tm := timer.NewTimer(4, time.Millisecond)
			tm.Start()
			var wg sync.WaitGroup
			for w := 0; w < 4; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 50; i++ {
						id := tm.Add(time.Duration(i%7)*time.Millisecond, func(...any) {}, nil, i%3 == 0)
						if i%2 == 0 {
							tm.Del(id)
						}
					}
				}()
			}
			time.Sleep(time.Duration(round%5) * time.Millisecond)
			tm.Stop()
			wg.Wait()
		}
		goleak.VerifyNone(t)
	})
}

// BenchmarkAddDel is the per-connection deadline pattern: schedule a close,
// then cancel it because the connection ended first.
func BenchmarkAddDel(b *testing.B) {
	tm := timer.NewTimer(60, time.Second)
	tm.Start()
	defer tm.Stop()
	fn := func(...any) {}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tm.Del(tm.Add(30*time.Second, fn, nil, false))
		}
	})
}
