package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is one server running in its own process, so its CPU time and
// memory are its own.
type child struct {
	name, kind string
	addr       string
	cmd        *exec.Cmd
	stderr     *tailBuffer
	exited     chan struct{}
	waitErr    error
	lines      chan string // what it prints after "ready"
}

// live tracks running children so an interrupted harness can kill them.
var live = struct {
	sync.Mutex
	m map[*child]struct{}
}{m: map[*child]struct{}{}}

// killAllChildren kills every running child's process group.
func killAllChildren() {
	live.Lock()
	defer live.Unlock()
	for c := range live.m {
		signalGroup(c.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// startChild runs "self serve -impl name -kind kind [extra...]" (on cpus,
// unless empty) and waits until it reports that it listens.
func startChild(self, name, kind string, cpus []int, timeout time.Duration, extra ...string) (*child, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, append([]string{"serve", "-impl", name, "-kind", kind, "-addr", addr}, extra...)...)
	cmd.SysProcAttr = childAttr()
	return launch(cmd, name, kind, addr, cpus, timeout, nil)
}

// launch starts cmd, a server that listens on addr, and waits until it is
// ready: until it prints "ready", or, when listening is set, until
// listening reports true.
func launch(cmd *exec.Cmd, name, kind, addr string, cpus []int, timeout time.Duration, listening func() bool) (*child, error) {
	c := &child{name: name, kind: kind, addr: addr, cmd: cmd, stderr: &tailBuffer{max: 8 << 10}, exited: make(chan struct{}), lines: make(chan string, 4)}
	c.cmd.Stderr = c.stderr
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := startPinned(c.cmd.Start, cpus); err != nil {
		return nil, err
	}
	live.Lock()
	live.m[c] = struct{}{}
	live.Unlock()

	ready := make(chan bool, 2)
	go func() {
		sc := bufio.NewScanner(out)
		ok := false
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "ready" && !ok && listening == nil {
				ok = true
				ready <- true
			} else if ok {
				select {
				case c.lines <- sc.Text():
				default:
				}
			}
		}
		if !ok {
			ready <- false
		}
		// The pipe is drained to EOF before Wait, as exec requires.
		c.waitErr = c.cmd.Wait()
		close(c.exited)
	}()
	if listening != nil {
		go func() {
			for deadline := time.Now().Add(timeout); time.Now().Before(deadline) && c.alive(); time.Sleep(20 * time.Millisecond) {
				if listening() {
					ready <- true
					return
				}
			}
		}()
	}
	select {
	case ok := <-ready:
		if ok {
			return c, nil
		}
		c.stop()
		return nil, fmt.Errorf("server %s/%s exited: %v: %s", name, kind, c.waitErr, c.stderr)
	case <-time.After(timeout):
		c.stop()
		return nil, fmt.Errorf("server %s/%s not ready within %v: %s", name, kind, timeout, c.stderr)
	}
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// alive reports whether the child still runs.
func (c *child) alive() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// stop asks the child to stop (SIGTERM), kills its process group after a
// grace period and waits for it.
func (c *child) stop() {
	defer func() {
		live.Lock()
		delete(live.m, c)
		live.Unlock()
	}()
	signalGroup(c.pid(), syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
		signalGroup(c.pid(), syscall.SIGKILL)
		<-c.exited
	}
	// Anything the server started in its group goes too.
	signalGroup(c.pid(), syscall.SIGKILL)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}

var errChildDied = errors.New("bench: server process died during the run")

// selfPath is the executable re-run for server children.
func selfPath() (string, error) { return os.Executable() }
