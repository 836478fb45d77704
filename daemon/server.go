//go:build unix

package daemon

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// server is the running process's side of the lifecycle: it owns the pid
// file and the control socket, and turns signals and control requests into
// calls of the hooks.
type server struct {
	cfg     Config
	hooks   Hooks
	pid     int
	started time.Time
	daemon  bool
	child   *childSpec // set in a process started by reload

	ln      *net.UnixListener
	drainLn *net.UnixListener // after a reload: answers status while draining (mu)
	events  chan event
	done    chan struct{} // closed when the main loop has ended

	state     atomic.Value // string: running, stopping
	reloading atomic.Bool

	// sigs receives the signals the server obeys, from bootstrap on, so
	// that none arriving before the main loop runs takes its default
	// action (SIGQUIT and SIGUSR1 would end the process).
	sigs chan os.Signal
	// interrupted is a stop signal that arrived during a reload; only the
	// main loop uses it.
	interrupted os.Signal

	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	waiters   []net.Conn // stop requests waiting for the end
	lastReqs  []int64
	lastStamp time.Time
	handlers  sync.WaitGroup
}

// maxRequest bounds a control request line.
const maxRequest = 64 << 10

type event struct {
	stop     bool
	graceful bool
	conn     net.Conn // stop: answered when done

	reload bool
	exe    string
	dir    string
	reply  chan response // reload: the outcome
}

func newServer(cfg Config, hooks Hooks, daemon bool) *server {
	s := &server{
		cfg:     cfg,
		hooks:   hooks,
		pid:     os.Getpid(),
		started: time.Now(),
		daemon:  daemon,
		events:  make(chan event),
		done:    make(chan struct{}),
		conns:   make(map[net.Conn]struct{}),
	}
	s.state.Store("starting")
	return s
}

// listenControl binds the control socket at path, replacing a stale one,
// and answers on it.
func (s *server) listenControl(path string) error {
	if err := s.bindControl(path); err != nil {
		return err
	}
	go s.acceptControl()
	return nil
}

// bindControl binds the control socket at path, replacing a stale one;
// requests wait until acceptControl runs.
func (s *server) bindControl(path string) error {
	os.Remove(path)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrControl, err)
	}
	// The file's removal is managed by removePidIfOwn: after a reload the
	// path belongs to the new process.
	ln.SetUnlinkOnClose(false)
	// Only the owner may stop or reload the server.
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		os.Remove(path)
		return fmt.Errorf("%w: %w", ErrControl, err)
	}
	s.ln = ln
	return nil
}

func (s *server) acceptControl() { s.accept(s.ln, true) }

// accept serves the control socket ln; all: every command, else only those
// that read (ping, status, connections).
func (s *server) accept(ln *net.UnixListener, all bool) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		select {
		case <-s.done:
			s.mu.Unlock()
			c.Close()
			continue
		default:
		}
		s.conns[c] = struct{}{}
		s.handlers.Add(1)
		s.mu.Unlock()
		go s.handle(c, all)
	}
}

func (s *server) forget(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *server) handle(c net.Conn, all bool) {
	defer s.handlers.Done()
	keep := false
	defer func() {
		if !keep {
			s.forget(c)
			c.Close()
		}
	}()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	// Requests are small; a longer line is refused rather than buffered.
	line, err := bufio.NewReader(io.LimitReader(c, maxRequest)).ReadBytes('\n')
	if err != nil {
		if len(line) >= maxRequest {
			writeResponse(c, response{Error: "request too long"})
		}
		return
	}
	var req request
	if err := json.Unmarshal(line, &req); err != nil {
		writeResponse(c, response{Error: "bad request: " + err.Error()})
		return
	}
	switch req.Cmd {
	case "stop", "reload":
		if !all {
			writeResponse(c, response{Error: "this process is finishing its connections after a reload; " + req.Cmd + " the server itself"})
			return
		}
	}
	switch req.Cmd {
	case "ping":
		writeResponse(c, response{OK: true, Pid: s.pid})
	case "status":
		writeResponse(c, response{OK: true, Pid: s.pid, Status: s.status()})
	case "connections":
		var conns []ConnInfo
		if s.hooks.Connections != nil {
			conns = s.hooks.Connections()
		}
		writeResponse(c, response{OK: true, Pid: s.pid, Conns: conns})
	case "stop":
		// The connection stays open until the server has stopped; the
		// main loop answers it.
		keep = true
		writeResponse(c, response{OK: true, Pid: s.pid})
		if !s.post(event{stop: true, graceful: req.Graceful, conn: c}) {
			keep = false
		}
	case "reload":
		if s.reloading.Load() {
			writeResponse(c, response{Error: ErrReloadBusy.Error()})
			return
		}
		reply := make(chan response, 1)
		if !s.post(event{reload: true, exe: req.Exe, dir: req.Dir, reply: reply}) {
			writeResponse(c, response{Error: "server is stopping"})
			return
		}
		// The main loop answers every reload it took.
		writeResponse(c, <-reply)
	default:
		writeResponse(c, response{Error: "unknown command " + req.Cmd})
	}
}

// post hands ev to the main loop; false if the loop has ended.
func (s *server) post(ev event) bool {
	select {
	case s.events <- ev:
		return true
	case <-s.done:
		return false
	}
}

func (s *server) status() *statusReport {
	var goers []GoerStatus
	if s.hooks.Status != nil {
		goers = s.hooks.Status()
	}
	now := time.Now()
	rates := make([]float64, len(goers))
	s.mu.Lock()
	since, last := s.lastStamp, s.lastReqs
	if since.IsZero() || len(last) != len(goers) {
		since, last = s.started, make([]int64, len(goers))
	}
	if d := now.Sub(since).Seconds(); d > 0 {
		for i, g := range goers {
			rates[i] = float64(g.Requests-last[i]) / d
		}
	}
	s.lastStamp = now
	s.lastReqs = make([]int64, len(goers))
	for i, g := range goers {
		s.lastReqs[i] = g.Requests
	}
	s.mu.Unlock()
	st, _ := s.state.Load().(string)
	return &statusReport{
		Pid:       s.pid,
		Name:      s.cfg.Name,
		Version:   s.cfg.Version,
		GoVersion: runtime.Version(),
		Started:   s.started,
		Now:       now,
		Daemon:    s.daemon,
		Load:      loadAverage(),
		Memory:    residentMemory(),
		State:     st,
		Goers:     goers,
		Rates:     rates,
	}
}

// catchSignals starts queueing the signals the server obeys for run.
func (s *server) catchSignals() {
	s.sigs = make(chan os.Signal, 8)
	signal.Notify(s.sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGHUP)
}

// releaseSignals gives the signals back their default action.
func (s *server) releaseSignals() {
	if s.sigs != nil {
		signal.Stop(s.sigs)
	}
}

// stopsOn tells whether sig stops the server: SIGINT, SIGTERM, SIGQUIT
// and, in the foreground, SIGHUP (the terminal is gone). In daemon mode
// SIGHUP reloads, as SIGUSR1 always does.
func (s *server) stopsOn(sig os.Signal) bool {
	switch sig {
	case syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT:
		return true
	case syscall.SIGHUP:
		return !s.daemon
	}
	return false
}

// run serves until a stop or a completed reload; it returns after Stop, or
// with ErrStopTimeout if Stop does not return in time (see stopServer).
func (s *server) run() error {
	if s.sigs == nil {
		s.catchSignals()
	}
	defer s.releaseSignals()
	sigs := s.sigs
	s.state.Store("running")

	var handedTo *successor
	graceful := false
	for stop := false; !stop; {
		sig := s.interrupted
		s.interrupted = nil
		if sig == nil {
			select {
			case sig = <-sigs:
			case ev := <-s.events:
				switch {
				case ev.stop:
					s.mu.Lock()
					s.waiters = append(s.waiters, ev.conn)
					s.mu.Unlock()
					graceful, stop = ev.graceful, true
				case ev.reload:
					var resp response
					handedTo, resp = s.reload(ev.exe, ev.dir, sigs)
					ev.reply <- resp
					if handedTo != nil {
						graceful, stop = true, true
					}
				}
				continue
			}
		}
		switch {
		case sig == syscall.SIGQUIT:
			graceful, stop = true, true
		case s.stopsOn(sig):
			graceful, stop = false, true
		default: // SIGUSR1, or SIGHUP in daemon mode
			handedTo = s.reloadFromSignal(sigs)
			graceful, stop = true, handedTo != nil
		}
	}

	s.state.Store("stopping")
	if handedTo != nil {
		s.state.Store("draining")
		s.listenDrain()
	}
	err := s.stopServer(handedTo, graceful, sigs)
	if handedTo == nil {
		removePidIfOwn(s.cfg.PidFile, s.pid)
	}
	s.finish()
	if handedTo != nil && !s.daemon {
		// In the foreground the terminal waits for this process: stay until
		// the new one ends, so that Ctrl+C and the shell keep working.
		handedTo.wait(sigs)
	}
	return err
}

// stopServer runs OnReload (after a reload to handedTo) and Stop, and waits
// for them at most StopTimeout (plus GracefulTimeout for a graceful stop):
// a server that does not stop must not leave a process behind that ignores
// every signal. SIGINT or SIGTERM meanwhile ends the wait at once. Either
// way it returns ErrStopTimeout and leaves Stop running; the program is
// expected to exit when Run returns.
//
// In the foreground after a reload, signals are the successor's business
// (see successor.wait), and this process only finishes its connections.
func (s *server) stopServer(handedTo *successor, graceful bool, sigs <-chan os.Signal) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if handedTo != nil && s.hooks.OnReload != nil {
			s.hooks.OnReload()
		}
		s.hooks.Stop(graceful, s.cfg.GracefulTimeout)
	}()
	limit := s.cfg.StopTimeout
	if graceful {
		limit += s.cfg.GracefulTimeout
	}
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case <-done:
			return nil
		case <-timer.C:
			s.errorf("the server did not stop within %v; exiting without it", limit)
			return fmt.Errorf("%w: not done within %v", ErrStopTimeout, limit)
		case sig := <-sigs:
			if handedTo != nil && !s.daemon {
				handedTo.forward(sig)
			} else if sig == syscall.SIGINT || sig == syscall.SIGTERM {
				s.errorf("%v while stopping: exiting without waiting for the server", sig)
				return fmt.Errorf("%w: %v", ErrStopTimeout, sig)
			}
		}
	}
}

// finish closes the control channel, answers waiting stop requests and
// waits for the control handlers.
func (s *server) finish() {
	s.mu.Lock()
	close(s.done)
	waiters := s.waiters
	s.waiters = nil
	// Wake handlers still waiting for a request; one writing its answer
	// (a reload's outcome) finishes it.
	for c := range s.conns {
		if !contains(waiters, c) {
			c.SetReadDeadline(time.Now())
		}
	}
	s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
	}
	s.closeDrain()
	for _, c := range waiters {
		writeResponse(c, response{OK: true, Done: true, Pid: s.pid})
		s.forget(c)
		c.Close()
	}
	s.handlers.Wait()
}

func contains(cs []net.Conn, c net.Conn) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// errorf prints a message to the configured stderr.
func (s *server) errorf(format string, args ...any) {
	fmt.Fprintf(s.cfg.Stderr, s.cfg.Name+": "+format+"\n", args...)
}
