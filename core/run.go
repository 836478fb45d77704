package core

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"time"

	"github.com/shunhui19/goes/core/timer"
)

// Start opens the Goer's listener, runs OnStart and serves in the
// background. It returns once the Goer accepts connections. Stop or
// GracefulStop ends it. RunAll calls it for you. A panic in OnStart fails
// Start with ErrStartPanic; the listener is closed again.
func (g *Goer) Start() error {
	if err := g.listen(nil); err != nil {
		return err
	}
	return g.serve()
}

// listen opens (or, in a reload, adopts) the listening socket.
func (g *Goer) listen(inherited *os.File) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state != goerIdle {
		return fmt.Errorf("goes: %s: already started", g.name())
	}
	g.setDefaults()
	if g.log == nil {
		if err := g.openLog(); err != nil {
			return err
		}
	}
	if g.Address == "" {
		return errors.New("goes: Goer has no Address")
	}
	t, err := lookupTransport(g.Transport)
	if err != nil {
		return err
	}
	g.inherited = inherited
	ln, err := t.Listen(g)
	g.inherited = nil
	if err != nil {
		return fmt.Errorf("goes: %s: listen: %w", g.name(), err)
	}
	if g.timer.Load() == nil {
		g.newTimerLocked()
	}
	g.listener = ln
	g.state = goerRunning
	g.started = time.Now()
	g.done = make(chan struct{})
	g.served = make(chan struct{})
	if g.IdleTimeout > 0 {
		g.sweepID = g.timer.Load().Add(time.Second, func(...any) { g.sweepIdle() }, nil, true)
	}
	return nil
}

// serve runs OnStart and starts accepting. If OnStart panics the Goer is
// abandoned, unserved, and the error names the panic: a server whose setup
// did not finish must not take connections (nor, in a reload, replace the
// one that serves).
func (g *Goer) serve() error {
	if err := g.runOnStart(); err != nil {
		g.abandon()
		return err
	}
	ln := g.Listener()
	g.logger().Info("goer started", "goer", g.name(), "listen", ln.Addr().String(), "protocol", ProtocolName(g.Protocol))
	go func() {
		defer close(g.served)
		if err := ln.Serve(); err != nil {
			g.logger().Error("serve failed", "goer", g.name(), "err", err)
		}
	}()
	return nil
}

func (g *Goer) runOnStart() (err error) {
	if g.OnStart == nil {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			g.logger().Error("callback panicked", "goer", g.name(), "callback", "OnStart", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %s: %v", ErrStartPanic, g.name(), r)
		}
	}()
	g.OnStart(g)
	return nil
}

// Inherited returns the listening socket handed over by the previous
// process during a reload, for the transport's Listen to adopt; nil when
// there is none.
func (g *Goer) Inherited() *os.File { return g.inherited }

// Addr returns the address the Goer listens on (the real port when Address
// asked for port 0), or nil before Start.
func (g *Goer) Addr() net.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.listener == nil {
		return nil
	}
	return g.listener.Addr()
}

// Listener returns the Goer's listener (nil before Start).
func (g *Goer) Listener() Listener {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.listener
}

// Timer returns the Goer's timing wheel, for protocols and callbacks that
// need per-connection deadlines. It is running between Start and Stop;
// after Stop it is a stopped one, whose Add schedules nothing.
func (g *Goer) Timer() *timer.Timer {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t := g.timer.Load(); t != nil {
		return t
	}
	if g.state == goerStopped {
		// A caller that outlived Stop (a callback Stop gave up on): a
		// wheel started now would never be stopped.
		t := timer.NewTimer(1, time.Millisecond)
		t.Stop()
		return t
	}
	return g.newTimerLocked()
}

// newTimerLocked starts the Goer's own timing wheel; g.mu is held.
func (g *Goer) newTimerLocked() *timer.Timer {
	t := timer.NewTimer(100, 10*time.Millisecond)
	t.Start()
	g.timer.Store(t)
	g.ownTimer = true
	return t
}

// Done is closed when the Goer has stopped.
func (g *Goer) Done() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done == nil {
		g.done = make(chan struct{})
	}
	return g.done
}

// Stop stops accepting, closes every connection after flushing what is
// queued for it (each bounded by CloseTimeout, the protocol's goodbye first),
// then the AsyncConnections whose Server it is, the same way (they do not
// reconnect; what is left of CloseTimeout, a second at least, bounds
// them), and returns when all have ended. OnStop runs. Safe for concurrent
// use.
func (g *Goer) Stop() { g.stop(0) }

// GracefulStop stops accepting, tells every connection (OnGracefulStop and
// the protocol's Drainer: HTTP closes idle keep-alive connections and
// answers the requests in progress with "Connection: close", WebSocket
// sends 1001) and lets connections end by themselves for up to
// GracefulTimeout, then stops like Stop.
func (g *Goer) GracefulStop() { g.stop(g.GracefulTimeout) }

// StopWithin stops gracefully, waiting at most grace for connections to end
// by themselves (0: Stop).
func (g *Goer) StopWithin(grace time.Duration) { g.stop(grace) }

// StopAccepting closes the listener and returns once nothing accepts on
// it any more (the epoll engine's loops take it out of their sets on their
// own goroutines): a connection that comes after is not this process's.
// Open connections are served on. It is the first step of a reload's
// hand-over.
func (g *Goer) StopAccepting() {
	g.mu.Lock()
	ln := g.listener
	running := g.state == goerRunning
	served := g.served
	g.mu.Unlock()
	if running && ln != nil {
		ln.Close()
		<-served
	}
}

func (g *Goer) stop(grace time.Duration) {
	g.mu.Lock()
	if g.state != goerRunning {
		done := g.done
		state := g.state
		g.mu.Unlock()
		if state == goerStopping && done != nil {
			<-done
		}
		return
	}
	g.state = goerStopping
	ln := g.listener
	g.mu.Unlock()

	ln.Close()
	<-g.served
	if grace > 0 {
		g.draining.Store(true)
		g.drainAll()
		if !g.waitConns(grace) {
			g.logger().Info("graceful timeout passed; closing the remaining connections", "goer", g.name(), "open", g.open.Load())
		}
		g.draining.Store(false)
	}
	g.closeAll()
	window := time.Now().Add(g.CloseTimeout + time.Second)
	if !g.waitConns(g.CloseTimeout + time.Second) {
		g.Connections.Range(func(_ int, c *TCPConnection) bool {
			c.Destroy()
			return true
		})
		// The sockets are closed; what is left is a callback that does
		// not return. Stop does not wait for it forever.
		if !g.waitConns(DefaultCloseTimeout) {
			g.logger().Error("connections still busy in a callback; stopping without them", "goer", g.name(), "open", g.open.Load())
		}
	}
	g.closeClients(time.Until(window))
	if f, ok := ln.(Finisher); ok {
		f.Finish()
	}
	if s, ok := g.Protocol.(GoerStopper); ok {
		func() {
			defer g.recoverGoerCallback("Protocol.OnGoerStop")
			s.OnGoerStop(g)
		}()
	}
	if g.OnStop != nil {
		func() {
			defer g.recoverGoerCallback("OnStop")
			g.OnStop(g)
		}()
	}
	g.mu.Lock()
	if g.sweepID != 0 {
		g.timer.Load().Del(g.sweepID)
		g.sweepID = 0
	}
	if g.ownTimer {
		g.timer.Swap(nil).Stop()
		g.ownTimer = false
	}
	g.state = goerStopped
	close(g.done)
	g.mu.Unlock()
	g.logger().Info("goer stopped", "goer", g.name())
	if g.logFile != nil {
		g.logFile.Close()
	}
}

// closeAll closes every connection. A protocol's goodbye is said on the
// connection's lane, where it cannot cut into a handshake or a message
// being answered.
func (g *Goer) closeAll() {
	g.Connections.Range(func(_ int, c *TCPConnection) bool {
		c.mu.Lock()
		_, goodbye := c.Protocol.(Goodbyer)
		c.mu.Unlock()
		if goodbye {
			c.post(laneEvent{kind: evGoodbye})
		} else {
			c.Close("")
		}
		return true
	})
}

// waitConns waits up to d for every connection (and UDP handler) to end.
func (g *Goer) waitConns(d time.Duration) bool {
	ch := make(chan struct{})
	go func() {
		g.conns.Wait()
		close(ch)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// sweepIdle closes connections that read nothing for IdleTimeout. One
// that PauseRecv paused is not read, and never idle; its clock starts
// again when it is resumed (resumeLocked). One paused for its full send
// queue is idle when its peer takes nothing either (wrote).
func (g *Goer) sweepIdle() {
	limit := time.Now().Add(-g.IdleTimeout).UnixNano()
	g.Connections.Range(func(_ int, c *TCPConnection) bool {
		if c.lastActive.Load() < limit && c.pause.Load()&pausedByUser == 0 && !c.closing() {
			c.post(laneEvent{kind: evError, code: ErrCodeIdleTimeout, msg: fmt.Sprintf("%v: silent for more than %v", ErrIdleTimeout, g.IdleTimeout)})
			c.Close("")
		}
		return true
	})
}

func (g *Goer) recoverGoerCallback(name string) {
	if r := recover(); r != nil {
		g.stats.Panics.Add(1)
		g.logger().Error("callback panicked", "goer", g.name(), "callback", name, "panic", fmt.Sprint(r))
	}
}

func (g *Goer) name() string {
	if g.Name != "" {
		return g.Name
	}
	t := g.Transport
	if t == "" {
		t = DefaultTransport
	}
	return t + "://" + g.Address
}

// GetName returns the Goer's Name, or transport://address.
func (g *Goer) GetName() string { return g.name() }
