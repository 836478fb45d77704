//go:build unix

package daemon

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	godaemon "github.com/sevlyar/go-daemon"
	"golang.org/x/sys/unix"
)

// startEnv carries, to a process started by start -d, where its pid file is
// and where to report a failure to start.
const startEnv = "GOES_DAEMON_START"

// startErrEnv is kept for cleanEnv: both variables are dropped together.
const startErrEnv = startEnv

type startSpec struct {
	PidFile string `json:"pidfile"`
	ErrFile string `json:"errfile"`
}

type options struct {
	daemon, quiet, graceful bool
	count                   int
}

// Run carries out the command in cfg.Args: start [-d] [-q] | stop [-g] |
// restart [-d] [-g] [-q] | reload | status [-d [-n N]] | connections.
//
// start, and every process that start -d or reload creates, serves until
// stopped and returns after hooks.Stop (or with ErrStopTimeout when Stop
// does not return in time: the program should then exit, as
// os.Exit(ExitCode(err)) does); the other commands talk to the
// running server and return. A non-nil error means the command failed;
// ExitCode turns it into an exit status. The failure has already been
// reported on cfg.Stderr.
func Run(cfg Config, hooks Hooks) error {
	cfg.setDefaults()
	cfg.PidFile = absPath(cfg.PidFile)

	// Processes created by reload and by start -d do not read commands.
	spec, err := childFromEnv()
	if err != nil {
		return err
	}
	if spec != nil {
		return runReloadChild(cfg, hooks, spec)
	}
	if godaemon.WasReborn() {
		return runDaemonChild(cfg, hooks)
	}

	if len(cfg.Args) == 0 {
		fmt.Fprint(cfg.Stderr, Usage(cfg.Name))
		return fmt.Errorf("%w: no command", ErrUsage)
	}
	cmd := cfg.Args[0]
	fs := flag.NewFlagSet(cfg.Name+" "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o options
	switch cmd {
	case "start":
		fs.BoolVar(&o.daemon, "d", false, "")
		fs.BoolVar(&o.quiet, "q", false, "")
	case "stop":
		fs.BoolVar(&o.graceful, "g", false, "")
		fs.BoolVar(&o.quiet, "q", false, "")
	case "restart":
		fs.BoolVar(&o.daemon, "d", false, "")
		fs.BoolVar(&o.graceful, "g", false, "")
		fs.BoolVar(&o.quiet, "q", false, "")
	case "status":
		fs.BoolVar(&o.daemon, "d", false, "")
		fs.IntVar(&o.count, "n", 0, "")
	case "reload", "connections":
	default:
		fmt.Fprintf(cfg.Stderr, "%s: unknown command %q\n\n%s", cfg.Name, cmd, Usage(cfg.Name))
		return fmt.Errorf("%w: unknown command %q", ErrUsage, cmd)
	}
	if err := fs.Parse(cfg.Args[1:]); err != nil || fs.NArg() > 0 {
		if err == nil {
			err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
		}
		fmt.Fprintf(cfg.Stderr, "%s %s: %v\n\n%s", cfg.Name, cmd, err, Usage(cfg.Name))
		return fmt.Errorf("%w: %s: %w", ErrUsage, cmd, err)
	}
	if err := hooks.check(); err != nil && (cmd == "start" || cmd == "restart") {
		return err
	}

	switch cmd {
	case "start":
		return start(cfg, hooks, o)
	case "stop":
		return stop(cfg, o)
	case "restart":
		if err := stop(cfg, o); err != nil && !errors.Is(err, ErrNotRunning) {
			return err
		}
		return start(cfg, hooks, o)
	case "reload":
		return reloadCommand(cfg)
	case "status":
		return statusCommand(cfg, o)
	default:
		return connectionsCommand(cfg)
	}
}

func start(cfg Config, hooks Hooks, o options) error {
	if pid, ok := runningPid(cfg.PidFile); ok {
		fmt.Fprintf(cfg.Stderr, "%s is already running (pid %d, pid file %s)\n", cfg.Name, pid, cfg.PidFile)
		return fmt.Errorf("%w: pid %d", ErrRunning, pid)
	}
	if o.daemon || cfg.Daemon {
		return startDaemon(cfg, o, (*godaemon.Context).Reborn)
	}
	s := newServer(cfg, hooks, false)
	if err := s.bootstrap(nil); err != nil {
		fmt.Fprintf(cfg.Stderr, "%s: %v\n", cfg.Name, err)
		return err
	}
	if !o.quiet {
		fmt.Fprintf(cfg.Stdout, "%s started in the foreground, pid %d; Ctrl+C stops it\n", cfg.Name, s.pid)
		printBanner(cfg.Stdout, s.status())
	}
	return s.run()
}

// bootstrap makes the server ready: sockets, serving, control socket and,
// unless it was started by reload, the pid file.
func (s *server) bootstrap(spec *childSpec) (err error) {
	var inherited map[string]*os.File
	if spec != nil {
		inherited = spec.inheritedFiles()
	}
	err = s.hooks.Listen(inherited)
	for _, f := range inherited {
		f.Close()
	}
	if err != nil {
		return fmt.Errorf("%w: listen: %w", ErrStartFailed, err)
	}
	if err := s.hooks.Serve(); err != nil {
		s.hooks.Stop(false, 0)
		return fmt.Errorf("%w: serve: %w", ErrStartFailed, err)
	}
	ctl := controlPath(s.cfg.PidFile)
	if spec != nil {
		ctl = spec.Control
	}
	// Once the control socket answers the server counts as started, and a
	// signal must not find its default action (for SIGQUIT and SIGUSR1, the
	// end of the process): signals queue from here on for run. Before, a
	// hook that hangs leaves the process to SIGTERM's default, the end.
	s.catchSignals()
	defer func() {
		if err != nil {
			s.releaseSignals()
		}
	}()
	if err := s.bindControl(ctl); err != nil {
		s.hooks.Stop(false, 0)
		return fmt.Errorf("%w: %w", ErrStartFailed, err)
	}
	if spec == nil {
		if err := writePid(s.cfg.PidFile, s.pid); err != nil {
			s.abort()
			return fmt.Errorf("%w: pid file: %w", ErrStartFailed, err)
		}
	}
	// Answer only now: whoever the control socket answers (start -d
	// waiting for its daemon, a test) finds the pid file written.
	go s.acceptControl()
	return nil
}

// abort undoes a bootstrap that cannot go on.
func (s *server) abort() {
	s.hooks.Stop(false, 0)
	s.finish()
}

func runReloadChild(cfg Config, hooks Hooks, spec *childSpec) error {
	cfg.PidFile = spec.PidFile
	s := newServer(cfg, hooks, spec.Daemon)
	s.child = spec
	if err := s.bootstrap(spec); err != nil {
		fmt.Fprintf(cfg.Stderr, "%s: %v\n", cfg.Name, err)
		return err
	}
	if err := spec.becomeReady(cfg.ReloadTimeout + 5*time.Second); err != nil {
		s.releaseSignals()
		s.abort()
		os.Remove(spec.Control)
		fmt.Fprintf(cfg.Stderr, "%s: %v\n", cfg.Name, err)
		return err
	}
	return s.run()
}

// startDaemon starts the daemon with reborn (go-daemon's Context.Reborn;
// tests replace it) and waits until it serves.
func startDaemon(cfg Config, o options, reborn func(*godaemon.Context) (*os.Process, error)) error {
	errFile, err := os.CreateTemp("", "goes-start-*.err")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStartFailed, err)
	}
	errFile.Close()
	defer os.Remove(errFile.Name())
	spec, _ := json.Marshal(startSpec{PidFile: cfg.PidFile, ErrFile: errFile.Name()})
	wd, _ := os.Getwd()
	out := cfg.StdoutFile
	if out == "" {
		// Writable, unlike the library's own default.
		out = os.DevNull
	}
	ctx := &godaemon.Context{
		LogFileName: out,
		LogFilePerm: 0o640,
		WorkDir:     wd,
		Args:        append([]string{os.Args[0]}, cfg.Args...),
		Env:         append(cleanEnv(os.Environ()), startEnv+"="+string(spec)),
	}
	// The daemon gets the descriptors it needs and no others: one this
	// command inherited (say, a pipe its caller reads to the end) would
	// otherwise stay open as long as the daemon runs.
	closeOnExecFrom(3)
	child, err := reborn(ctx)
	if err != nil && child == nil {
		fmt.Fprintf(cfg.Stderr, "%s: cannot start the daemon: %v\n", cfg.Name, err)
		return fmt.Errorf("%w: %w", ErrStartFailed, err)
	}
	// With err set the daemon runs nonetheless. Typically it read its
	// settings and closed the pipe before the library's last write (broken
	// pipe); otherwise it fails to read them and exits. Either way its own
	// outcome decides, below: it serves, exits, or is killed at the
	// deadline, and no daemon is left running behind a failed start.
	exited := make(chan error, 1)
	go func() {
		st, err := child.Wait()
		if err == nil {
			err = fmt.Errorf("%s", st)
		}
		exited <- err
	}()
	deadline := time.NewTimer(cfg.StartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			msg, _ := os.ReadFile(errFile.Name())
			fmt.Fprintf(cfg.Stderr, "%s: the daemon exited (%v): %s\n", cfg.Name, err, trimNL(string(msg)))
			return fmt.Errorf("%w: %s", ErrStartFailed, trimNL(string(msg)))
		case <-deadline.C:
			// The daemon leads its own session and group: kill it with
			// whatever it started.
			syscall.Kill(-child.Pid, syscall.SIGKILL)
			child.Kill()
			select {
			case <-exited:
			case <-time.After(5 * time.Second):
			}
			fmt.Fprintf(cfg.Stderr, "%s: the daemon was not ready within %v\n", cfg.Name, cfg.StartTimeout)
			return fmt.Errorf("%w: not ready within %v", ErrStartFailed, cfg.StartTimeout)
		case <-tick.C:
			resp, err := call(cfg.PidFile, request{Cmd: "ping"}, time.Second)
			if err == nil && resp.Pid == child.Pid {
				if !o.quiet {
					fmt.Fprintf(cfg.Stdout, "%s started as a daemon, pid %d\n", cfg.Name, child.Pid)
					if st, err := call(cfg.PidFile, request{Cmd: "status"}, time.Second); err == nil && st.Status != nil {
						printBanner(cfg.Stdout, st.Status)
					}
				}
				return nil
			}
		}
	}
}

func runDaemonChild(cfg Config, hooks Hooks) error {
	var spec startSpec
	if v, ok := os.LookupEnv(startEnv); ok {
		os.Unsetenv(startEnv)
		json.Unmarshal([]byte(v), &spec)
	}
	if spec.PidFile != "" {
		cfg.PidFile = spec.PidFile
	}
	report := func(err error) error {
		if spec.ErrFile != "" {
			os.WriteFile(spec.ErrFile, []byte(err.Error()+"\n"), 0o600)
		}
		fmt.Fprintf(cfg.Stderr, "%s: %v\n", cfg.Name, err)
		return err
	}
	ctx := &godaemon.Context{}
	if _, err := ctx.Reborn(); err != nil {
		return report(fmt.Errorf("%w: %w", ErrStartFailed, err))
	}
	os.Unsetenv(godaemon.MARK_NAME)
	if pid, ok := runningPid(cfg.PidFile); ok {
		return report(fmt.Errorf("%w: pid %d", ErrRunning, pid))
	}
	s := newServer(cfg, hooks, true)
	if err := s.bootstrap(nil); err != nil {
		return report(err)
	}
	return s.run()
}

// closeOnExecFrom marks every open descriptor from fd min up close-on-exec.
// Those the Go runtime opened are already; this catches ones inherited from
// the parent process.
func closeOnExecFrom(min int) {
	entries, err := os.ReadDir("/dev/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= min {
			unix.CloseOnExec(fd)
		}
	}
}

// notRunning reports that no server runs, and removes a stale pid file:
// one naming a process that is gone, or one that is not the server (its pid
// reused by another process, which is left alone).
func notRunning(cfg Config) error {
	rec, err := readPidFile(cfg.PidFile)
	switch {
	case err != nil:
		fmt.Fprintf(cfg.Stderr, "%s is not running (no process in pid file %s)\n", cfg.Name, cfg.PidFile)
	case processAlive(rec.pid):
		removeStale(cfg.PidFile, rec)
		fmt.Fprintf(cfg.Stderr, "%s is not running (stale pid file %s named pid %d, which is another process, left alone; removed)\n", cfg.Name, cfg.PidFile, rec.pid)
	default:
		removeStale(cfg.PidFile, rec)
		fmt.Fprintf(cfg.Stderr, "%s is not running (stale pid file %s named pid %d, which is gone; removed)\n", cfg.Name, cfg.PidFile, rec.pid)
	}
	return ErrNotRunning
}

func stop(cfg Config, o options) error {
	rec, ok := serverRecord(cfg.PidFile)
	if !ok {
		return notRunning(cfg)
	}
	pid := rec.pid
	timeout := cfg.StopTimeout
	if o.graceful {
		timeout += cfg.GracefulTimeout
	}
	deadline := time.Now().Add(timeout)
	if c, err := dialControl(cfg.PidFile); err == nil {
		if c.send(request{Cmd: "stop", Graceful: o.graceful}) == nil {
			for {
				resp, err := c.recv(deadline)
				if err != nil || resp.Done || !resp.OK {
					break
				}
			}
		}
		c.Close()
	} else {
		// No control socket: fall back to a signal. serverRecord has
		// made sure that pid is the server, by its start time.
		sig := syscall.SIGTERM
		if o.graceful {
			sig = syscall.SIGQUIT
		}
		if err := signalServer(rec, sig); err != nil {
			fmt.Fprintf(cfg.Stderr, "%s: cannot signal pid %d: %v\n", cfg.Name, pid, err)
			return fmt.Errorf("%w: %w", ErrControl, err)
		}
	}
	if pid == os.Getpid() {
		// A program stopping itself: the server has answered that it is done.
		return nil
	}
	// Once the server has exited its pid may name another process: the
	// waits follow the process, not the number.
	for rec.sameProcess() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if rec.sameProcess() {
		signalServer(rec, syscall.SIGKILL)
		for i := 0; i < 200 && rec.sameProcess(); i++ {
			time.Sleep(10 * time.Millisecond)
		}
		removePidIfOwn(cfg.PidFile, pid)
		fmt.Fprintf(cfg.Stderr, "%s (pid %d) did not stop within %v and was killed\n", cfg.Name, pid, timeout)
		return nil
	}
	if !o.quiet {
		fmt.Fprintf(cfg.Stdout, "%s stopped (pid %d)\n", cfg.Name, pid)
	}
	return nil
}

func reloadCommand(cfg Config) error {
	pid, ok := runningPid(cfg.PidFile)
	if !ok {
		return notRunning(cfg)
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(cfg.Stderr, "%s: reload: %v\n", cfg.Name, err)
		return fmt.Errorf("%w: %w", ErrReloadFailed, err)
	}
	wd, _ := os.Getwd()
	c, err := dialControl(cfg.PidFile)
	if err != nil {
		fmt.Fprintf(cfg.Stderr, "%s: reload: %v\n", cfg.Name, err)
		return err
	}
	defer c.Close()
	if err := c.send(request{Cmd: "reload", Exe: exe, Dir: wd}); err != nil {
		return err
	}
	resp, err := c.recv(time.Now().Add(cfg.ReloadTimeout + 10*time.Second))
	if err != nil {
		fmt.Fprintf(cfg.Stderr, "%s: reload: %v\n", cfg.Name, err)
		return fmt.Errorf("%w: %w", ErrReloadFailed, err)
	}
	if !resp.OK {
		fmt.Fprintf(cfg.Stderr, "%s: %s\n", cfg.Name, resp.Error)
		if resp.Output != "" {
			fmt.Fprintf(cfg.Stderr, "output of the new process:\n%s\n", trimNL(resp.Output))
		}
		return fmt.Errorf("%w: %s", ErrReloadFailed, resp.Error)
	}
	fmt.Fprintf(cfg.Stdout, "%s reloaded: pid %d replaced by pid %d\n", cfg.Name, pid, resp.Pid)
	return nil
}

func statusCommand(cfg Config, o options) error {
	if _, ok := runningPid(cfg.PidFile); !ok {
		return notRunning(cfg)
	}
	var interrupted <-chan os.Signal
	if o.daemon {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(ch)
		interrupted = ch
	}
	for i := 1; ; i++ {
		resp, err := call(cfg.PidFile, request{Cmd: "status"}, 5*time.Second)
		if err != nil || resp.Status == nil {
			if err == nil {
				err = errors.New(resp.Error)
			}
			fmt.Fprintf(cfg.Stderr, "%s: status: %v\n", cfg.Name, err)
			return err
		}
		if o.daemon {
			fmt.Fprint(cfg.Stdout, "\033[H\033[2J")
		}
		formatStatus(cfg.Stdout, resp.Status, drainingStatus(cfg.PidFile)...)
		if !o.daemon || (o.count > 0 && i >= o.count) {
			return nil
		}
		select {
		case <-interrupted:
			return nil
		case <-time.After(time.Second):
		}
	}
}

func connectionsCommand(cfg Config) error {
	if _, ok := runningPid(cfg.PidFile); !ok {
		return notRunning(cfg)
	}
	resp, err := call(cfg.PidFile, request{Cmd: "connections"}, 5*time.Second)
	if err != nil {
		fmt.Fprintf(cfg.Stderr, "%s: connections: %v\n", cfg.Name, err)
		return err
	}
	formatConnections(cfg.Stdout, resp.Conns)
	for _, d := range askDraining(cfg.PidFile, request{Cmd: "connections"}) {
		fmt.Fprintf(cfg.Stdout, "\ndraining after a reload: pid %d\n", d.Pid)
		formatConnections(cfg.Stdout, d.Conns)
	}
	return nil
}

func trimNL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}
