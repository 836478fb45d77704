package core

import (
	"net"
	"sync"
	"testing"
	"time"
)

// idleListener accepts nothing: the test hands connections to the Goer
// itself, as an engine would.
type idleListener struct {
	once   sync.Once
	closed chan struct{}
}

func (l *idleListener) Serve() error   { <-l.closed; return nil }
func (l *idleListener) Close() error   { l.once.Do(func() { close(l.closed) }); return nil }
func (l *idleListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

type idleTransport struct{}

func (idleTransport) Listen(*Goer) (Listener, error) {
	return &idleListener{closed: make(chan struct{})}, nil
}

func init() { RegisterTransport(idleTransport{}, "test-idle") }

// A connection whose engine reports its end only while Stop gives up on it
// (a callback held the engine past CloseTimeout and DefaultCloseTimeout)
// reads the Goer's timer while Stop retires it: run under -race.
func TestStopRetiresTimerWhileConnectionCloses(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for DefaultCloseTimeout")
	}
	g := NewGoer("127.0.0.1:0", nil, "test-idle")
	g.CloseTimeout = 10 * time.Millisecond
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	streams := make([]*Stream, 4)
	for i := range streams {
		s, err := g.Accept(&sinkSocket{})
		if err != nil {
			t.Fatal(err)
		}
		s.Open()
		streams[i] = s
	}
	var ended sync.WaitGroup
	g.OnStop = func(*Goer) {
		// Stop retires the timer right after OnStop returns; the engine
		// reports the ends meanwhile, and later, on other goroutines.
		for _, s := range streams {
			ended.Add(1)
			go func() {
				defer ended.Done()
				s.Closed(nil)
			}()
		}
	}
	start := time.Now()
	g.Stop()
	ended.Wait()
	if d := time.Since(start); d < DefaultCloseTimeout {
		t.Fatalf("Stop returned after %v; the connections were not reported closed before OnStop", d)
	}
	if n := g.OpenConnections(); n != 0 {
		t.Fatalf("%d connections still open", n)
	}
	if n := g.PendingTimers(); n != 0 {
		t.Fatalf("%d timers pending after Stop", n)
	}
}

// A callback that outlived Stop and asks for the Goer's timer gets one that
// runs nothing: a wheel started after Stop would never be stopped.
func TestTimerAfterStop(t *testing.T) {
	g := NewGoer("127.0.0.1:0", nil, "test-idle")
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	if g.Timer().Add(time.Hour, func(...any) {}, nil, false) == 0 {
		t.Fatal("a running Goer's timer scheduled nothing")
	}
	g.Stop()
	if id := g.Timer().Add(time.Millisecond, func(...any) {}, nil, false); id != 0 {
		t.Fatalf("the timer of a stopped Goer scheduled a task (%d)", id)
	}
	if n := g.PendingTimers(); n != 0 {
		t.Fatalf("%d timers pending after Stop", n)
	}
}
