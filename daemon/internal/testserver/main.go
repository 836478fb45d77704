// Command testserver is a small line-echo server run through daemon.Run,
// for the daemon package's process tests.
//
// Each line received is answered with "VERSION PID LINE". VERSION comes from
// -ldflags "-X main.version=..." (default "v1"). The environment configures
// the rest:
//
//	TESTSERVER_ADDR      address to listen on (default 127.0.0.1:0)
//	TESTSERVER_ADDRFILE  where to write the address actually bound
//	TESTSERVER_PIDFILE   the pid file
//	TESTSERVER_EVENTS    a file that OnReload and Stop append lines to
//	TESTSERVER_GRACE     graceful timeout (a time.Duration)
//	TESTSERVER_RELOAD_TIMEOUT  how long a reload waits for the new process
//	TESTSERVER_STOP_TIMEOUT    the stop timeout
//	TESTSERVER_STDOUT    the daemon's output file
//	TESTSERVER_GUARD_PID exit as soon as this process (the test) is gone
//	TESTSERVER_STOP_HANG make Stop never return, as a wedged server would
//
// Built with -X main.broken=panic it panics before listening, as a broken
// new version would; with -X main.broken=hang it never gets ready.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shunhui19/goes/daemon"
)

var (
	version = "v1"
	broken  = ""
)

type server struct {
	addr     string
	ln       net.Listener
	mu       sync.Mutex
	conns    map[net.Conn]*connState
	nextID   int
	wg       sync.WaitGroup
	requests atomic.Int64
}

type connState struct {
	id           int
	read, writes atomic.Int64
}

func (s *server) key() string { return "tcp:" + s.addr }

func (s *server) listen(inherited map[string]*os.File) error {
	switch broken {
	case "panic":
		panic("testserver: this build is broken on purpose")
	case "hang":
		fmt.Println("testserver: this build hangs on purpose")
		select {}
	}
	var err error
	if f, ok := inherited[s.key()]; ok {
		s.ln, err = net.FileListener(f)
	} else {
		s.ln, err = net.Listen("tcp", s.addr)
	}
	if err != nil {
		return err
	}
	if p := os.Getenv("TESTSERVER_ADDRFILE"); p != "" {
		tmp := p + ".tmp"
		os.WriteFile(tmp, []byte(s.ln.Addr().String()), 0o644)
		os.Rename(tmp, p)
	}
	return nil
}

func (s *server) serve() error {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.nextID++
			st := &connState{id: s.nextID}
			s.conns[c] = st
			s.mu.Unlock()
			s.wg.Add(1)
			go s.handle(c, st)
		}
	}()
	return nil
}

func (s *server) handle(c net.Conn, st *connState) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	r := bufio.NewReader(c)
	pid := os.Getpid()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		st.read.Add(int64(len(line)))
		s.requests.Add(1)
		n, err := fmt.Fprintf(c, "%s %d %s", version, pid, line)
		st.writes.Add(int64(n))
		if err != nil {
			return
		}
	}
}

func (s *server) files() (map[string]*os.File, error) {
	f, err := s.ln.(*net.TCPListener).File()
	if err != nil {
		return nil, err
	}
	return map[string]*os.File{s.key(): f}, nil
}

func (s *server) stop(graceful bool, timeout time.Duration) {
	event(fmt.Sprintf("stop %d graceful=%v", os.Getpid(), graceful))
	if os.Getenv("TESTSERVER_STOP_HANG") != "" {
		select {}
	}
	s.ln.Close()
	if graceful {
		deadline := time.Now().Add(timeout)
		for time.Now().Before(deadline) {
			s.mu.Lock()
			n := len(s.conns)
			s.mu.Unlock()
			if n == 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *server) status() []daemon.GoerStatus {
	s.mu.Lock()
	n := len(s.conns)
	s.mu.Unlock()
	return []daemon.GoerStatus{{
		Name: "echo", Listen: "tcp://" + s.ln.Addr().String(), Transport: "tcp", Protocol: "line",
		Connections: n, Requests: s.requests.Load(), State: "running",
	}}
}

func (s *server) connections() []daemon.ConnInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []daemon.ConnInfo
	for c, st := range s.conns {
		out = append(out, daemon.ConnInfo{
			ID: st.id, Goer: "echo", Transport: "tcp", Protocol: "line",
			Remote: c.RemoteAddr().String(), Local: c.LocalAddr().String(),
			BytesRead: st.read.Load(), BytesWritten: st.writes.Load(), State: "established",
		})
	}
	return out
}

func event(line string) {
	p := os.Getenv("TESTSERVER_EVENTS")
	if p == "" {
		return
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	fmt.Fprintln(f, line)
	f.Close()
}

func main() {
	guard()
	s := &server{addr: os.Getenv("TESTSERVER_ADDR"), conns: make(map[net.Conn]*connState)}
	if s.addr == "" {
		s.addr = "127.0.0.1:0"
	}
	grace, _ := time.ParseDuration(os.Getenv("TESTSERVER_GRACE"))
	reloadTimeout, _ := time.ParseDuration(os.Getenv("TESTSERVER_RELOAD_TIMEOUT"))
	stopTimeout, _ := time.ParseDuration(os.Getenv("TESTSERVER_STOP_TIMEOUT"))
	cfg := daemon.Config{
		Name:            "testserver",
		Version:         version,
		PidFile:         os.Getenv("TESTSERVER_PIDFILE"),
		StdoutFile:      os.Getenv("TESTSERVER_STDOUT"),
		GracefulTimeout: grace,
		ReloadTimeout:   reloadTimeout,
		StopTimeout:     stopTimeout,
		StartTimeout:    10 * time.Second,
	}
	err := daemon.Run(cfg, daemon.Hooks{
		Listen:        s.listen,
		Serve:         s.serve,
		Files:         s.files,
		Stop:          s.stop,
		StopAccepting: func() { s.ln.Close() },
		OnReload:      func() { event("reload " + strconv.Itoa(os.Getpid())) },
		Status:        s.status,
		Connections:   s.connections,
	})
	os.Exit(daemon.ExitCode(err))
}
