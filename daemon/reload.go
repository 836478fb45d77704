//go:build unix

package daemon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// childEnv names the environment variable that makes Run, in a process
// started by reload, adopt the listening sockets instead of starting anew.
const childEnv = "GOES_DAEMON_RELOAD"

// maxCapture bounds how much of a new process's early output is kept for
// the reload command's error message.
const maxCapture = 64 << 10

// childSpec tells a process started by reload which inherited descriptor is
// which. ExtraFiles start at descriptor 3.
type childSpec struct {
	Ready   int            `json:"ready"`   // socket to report readiness on
	Stdout  int            `json:"stdout"`  // the old process's stdout
	Stderr  int            `json:"stderr"`  // the old process's stderr
	Files   map[string]int `json:"files"`   // listening sockets by key
	PidFile string         `json:"pidfile"` // the old process's pid file
	Control string         `json:"control"` // where to bind the control socket
	Daemon  bool           `json:"daemon"`
	Reloads int64          `json:"reloads"` // reloads that led to the new process
}

// successor is a process started by reload.
type successor struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // Wait's result, once exited is closed
}

// wait waits for the successor to exit. The terminal's Ctrl+C (SIGINT) and
// hang-up reach the successor directly, as it shares this process's group;
// SIGTERM, SIGQUIT and SIGUSR1, which are sent to one pid (kill PID), are
// passed on to it, so that this process, the one its caller knows, never
// ignores a stop.
func (c *successor) wait(sigs <-chan os.Signal) {
	for {
		select {
		case <-c.exited:
			return
		case sig := <-sigs:
			c.forward(sig)
		}
	}
}

// forward passes a signal sent to this process alone on to the successor.
func (c *successor) forward(sig os.Signal) {
	switch sig {
	case syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGUSR1:
		c.cmd.Process.Signal(sig)
	}
}

// capture keeps the first maxCapture bytes written to it.
type capture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := maxCapture - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// lenient passes writes on and ignores their errors: this process's own
// output may be closed, which must not stop the capture.
type lenient struct{ w io.Writer }

func (l lenient) Write(p []byte) (int, error) {
	l.w.Write(p)
	return len(p), nil
}

func (c *capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func (s *server) reloadFromSignal(sigs <-chan os.Signal) *successor {
	exe, err := selfExecutable()
	if err != nil {
		s.errorf("reload: %v", err)
		return nil
	}
	succ, resp := s.reload(exe, "", sigs)
	if succ == nil {
		s.errorf("reload failed: %s", resp.Error)
	}
	return succ
}

// reload starts exe as the successor with the listening sockets and waits
// for it to be ready. On success the pid file and the control socket name
// the successor and the caller must stop; on failure the successor is
// killed and this process goes on serving untouched.
//
// A stop signal from sigs (nil: none) abandons the reload: the successor is
// killed and the signal is kept in s.interrupted for the main loop.
func (s *server) reload(exe, dir string, sigs <-chan os.Signal) (*successor, response) {
	s.reloading.Store(true)
	defer s.reloading.Store(false)
	fail := func(format string, args ...any) (*successor, response) {
		return nil, response{Error: fmt.Sprintf(format, args...)}
	}
	if exe == "" {
		return fail("reload: no executable given")
	}
	if s.hooks.Files == nil {
		return fail("reload: the server cannot hand over its sockets (Files hook not set)")
	}
	hooked, err := s.hooks.Files()
	if err != nil {
		return fail("reload: listening sockets: %v", err)
	}
	files, err := passable(hooked)
	for _, f := range hooked {
		f.Close()
	}
	if err != nil {
		return fail("reload: listening sockets: %v", err)
	}
	defer func() {
		for _, f := range files {
			// The new process may have switched the shared sockets to
			// blocking mode before it failed: this process still serves
			// on them and needs them non-blocking.
			setNonblock(f)
			f.Close()
		}
	}()

	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return fail("reload: socketpair: %v", err)
	}
	unix.CloseOnExec(fds[0])
	unix.CloseOnExec(fds[1])
	// Non-blocking, so that deadlines work on it.
	unix.SetNonblock(fds[0], true)
	mine := os.NewFile(uintptr(fds[0]), "reload-parent")
	theirs := os.NewFile(uintptr(fds[1]), "reload-child")
	defer mine.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		theirs.Close()
		return fail("reload: pipe: %v", err)
	}

	spec := childSpec{
		Ready:   3,
		Stdout:  4,
		Stderr:  5,
		Files:   make(map[string]int, len(files)),
		PidFile: s.cfg.PidFile,
		Control: fmt.Sprintf("%s.%d", controlPath(s.cfg.PidFile), s.pid),
		Daemon:  s.daemon,
		Reloads: reloads.Load() + 1,
	}
	extra := []*os.File{theirs, os.Stdout, os.Stderr}
	for key, f := range files {
		spec.Files[key] = 3 + len(extra)
		extra = append(extra, f)
	}
	specJSON, _ := json.Marshal(spec)

	argv0 := exe
	if exe == "/proc/self/exe" && len(os.Args) > 0 {
		argv0 = os.Args[0]
	}
	if dir == "" {
		dir, _ = os.Getwd()
	}
	cmd := &exec.Cmd{
		Path:        exe,
		Args:        append([]string{argv0}, s.cfg.Args...),
		Env:         append(cleanEnv(os.Environ()), childEnv+"="+string(specJSON)),
		Dir:         dir,
		Stdout:      outW,
		Stderr:      outW,
		ExtraFiles:  extra,
		SysProcAttr: &syscall.SysProcAttr{Setsid: s.daemon},
	}
	err = cmd.Start()
	theirs.Close()
	outW.Close()
	if err != nil {
		outR.Close()
		return fail("reload: cannot start %s: %v", exe, err)
	}
	succ := &successor{cmd: cmd, exited: make(chan struct{})}
	go func() {
		succ.err = cmd.Wait()
		close(succ.exited)
	}()

	// Keep the successor's early output for the error message, and pass
	// it on to this process's own output as well. The successor moves its
	// output to the real place when it is ready, which ends this copy.
	out := &capture{}
	copied := make(chan struct{})
	go func() {
		io.Copy(io.MultiWriter(out, lenient{os.Stderr}), outR)
		outR.Close()
		close(copied)
	}()

	ready := make(chan error, 1)
	go func() {
		mine.SetReadDeadline(time.Now().Add(s.cfg.ReloadTimeout))
		line, err := bufio.NewReader(mine).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("unexpected message %q", line)
		}
		ready <- err
	}()

	childFailed := func(why string) (*successor, response) {
		s.killSuccessor(cmd.Process)
		// Every wait here is bounded: the main loop, and with it the
		// handling of stop signals, waits for this function.
		select {
		case <-succ.exited:
		case <-time.After(5 * time.Second):
			s.errorf("reload: the new process (pid %d) did not exit after SIGKILL", cmd.Process.Pid)
		}
		select {
		case <-copied:
		case <-time.After(time.Second):
			// Something the new process started still holds its output.
			outR.Close()
		}
		os.Remove(spec.Control)
		msg := fmt.Sprintf("reload: the new process (%s) %s; the old process (pid %d) keeps serving", exe, why, s.pid)
		return nil, response{Error: msg, Output: out.String()}
	}
	for waiting := true; waiting; {
		select {
		case err := <-ready:
			if err != nil {
				select {
				case <-succ.exited:
					return childFailed(fmt.Sprintf("exited: %v", succ.err))
				case <-time.After(time.Second):
				}
				if os.IsTimeout(err) {
					return childFailed(fmt.Sprintf("was not ready within %v", s.cfg.ReloadTimeout))
				}
				return childFailed(fmt.Sprintf("failed: %v", err))
			}
			waiting = false
		case <-succ.exited:
			return childFailed(fmt.Sprintf("exited: %v", succ.err))
		case sig := <-sigs:
			if s.stopsOn(sig) {
				s.interrupted = sig
				return childFailed(fmt.Sprintf("was abandoned: the old process received %v", sig))
			}
			// A second reload request waits for this one; it is dropped.
		}
	}

	// The successor serves. Publish it, then let it go on.
	newPid := cmd.Process.Pid
	if err := writePid(s.cfg.PidFile, newPid); err != nil {
		return childFailed(fmt.Sprintf("could not be recorded in the pid file: %v", err))
	}
	if err := os.Rename(spec.Control, controlPath(s.cfg.PidFile)); err != nil {
		writePid(s.cfg.PidFile, s.pid)
		return childFailed(fmt.Sprintf("control socket: %v", err))
	}
	mine.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(mine, "ok\n"); err != nil {
		// The successor vanished after it was ready: take everything back.
		writePid(s.cfg.PidFile, s.pid)
		os.Remove(controlPath(s.cfg.PidFile))
		s.ln.Close()
		s.listenControl(controlPath(s.cfg.PidFile))
		return childFailed(fmt.Sprintf("did not take over: %v", err))
	}
	if s.hooks.StopAccepting != nil {
		s.hooks.StopAccepting()
	}
	return succ, response{OK: true, Pid: newPid, Output: out.String()}
}

// killSuccessor kills a new process that failed. A daemon's successor leads
// its own session and process group: the whole group goes, with whatever it
// started. In the foreground it shares the terminal's group with this
// process, so only it is killed.
func (s *server) killSuccessor(p *os.Process) {
	if s.daemon {
		syscall.Kill(-p.Pid, syscall.SIGKILL)
	}
	p.Kill()
}

// passable returns duplicates of the hook's sockets that can be handed to a
// new process. os/exec takes each file's descriptor with Fd, which puts a
// socket from net's File method into blocking mode; a duplicate shares its
// open file description, and with it that mode, with the socket this
// process serves on. A blocked accept would then never return and Close
// would wait for it forever. These duplicates are made without that flag
// change, and the sockets are put (back) into non-blocking mode, undoing
// an Fd call the hook may have made itself.
func passable(files map[string]*os.File) (map[string]*os.File, error) {
	out := make(map[string]*os.File, len(files))
	fail := func(err error) (map[string]*os.File, error) {
		for _, f := range out {
			f.Close()
		}
		return nil, err
	}
	for key, f := range files {
		rc, err := f.SyscallConn()
		if err != nil {
			return fail(fmt.Errorf("%s: %w", key, err))
		}
		nfd := -1
		var dupErr error
		err = rc.Control(func(fd uintptr) {
			nfd, dupErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
			if dupErr == nil {
				dupErr = unix.SetNonblock(nfd, true)
			}
		})
		if err == nil {
			err = dupErr
		}
		if err != nil {
			if nfd >= 0 {
				unix.Close(nfd)
			}
			return fail(fmt.Errorf("%s: %w", key, err))
		}
		// NewFile of a non-blocking descriptor leaves its mode alone in Fd.
		out[key] = os.NewFile(uintptr(nfd), f.Name())
	}
	return out, nil
}

// setNonblock puts f's open file description into non-blocking mode.
func setNonblock(f *os.File) {
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.SetNonblock(int(fd), true) })
	}
}

// cleanEnv drops the variables that mark a reload or daemon child.
func cleanEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if strings.HasPrefix(kv, childEnv+"=") || strings.HasPrefix(kv, "_GO_DAEMON=") || strings.HasPrefix(kv, startErrEnv+"=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// childFromEnv returns the reload spec if this process was started by
// reload, and removes it from the environment so the program's own
// children do not see it.
func childFromEnv() (*childSpec, error) {
	v, ok := os.LookupEnv(childEnv)
	if !ok {
		return nil, nil
	}
	os.Unsetenv(childEnv)
	var spec childSpec
	if err := json.Unmarshal([]byte(v), &spec); err != nil {
		return nil, fmt.Errorf("goes: bad %s: %w", childEnv, err)
	}
	reloads.Store(spec.Reloads)
	return &spec, nil
}

// inheritedFiles wraps the listening sockets a reload child was given.
func (spec *childSpec) inheritedFiles() map[string]*os.File {
	m := make(map[string]*os.File, len(spec.Files))
	for key, fd := range spec.Files {
		m[key] = os.NewFile(uintptr(fd), key)
	}
	return m
}

// becomeReady moves output to where the old process wrote it, reports
// readiness and waits for the old process to hand over the pid file and the
// control socket.
func (spec *childSpec) becomeReady(timeout time.Duration) error {
	for target, fd := range map[int]int{1: spec.Stdout, 2: spec.Stderr} {
		if err := unix.Dup2(fd, target); err != nil {
			return fmt.Errorf("goes: reload: output: %w", err)
		}
		unix.Close(fd)
	}
	unix.SetNonblock(spec.Ready, true)
	f := os.NewFile(uintptr(spec.Ready), "reload-ready")
	defer f.Close()
	if _, err := io.WriteString(f, "ready\n"); err != nil {
		return fmt.Errorf("%w: report ready: %w", ErrReloadFailed, err)
	}
	f.SetReadDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil || line != "ok\n" {
		return fmt.Errorf("%w: the old process did not hand over (%q, %v)", ErrReloadFailed, line, err)
	}
	return nil
}

// absPath makes p absolute against the working directory.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
