package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// buildReloadServer builds examples/internal/reloadserver with a version
// string and, unless broken is "", -X main.broken=BROKEN.
func buildReloadServer(t *testing.T, dir, version, broken string) string {
	t.Helper()
	// Same name in another folder, as go run builds do: the pid file
	// follows the program's name and working directory.
	bin := filepath.Join(dir, version, "reloadserver")
	flags := "-X main.version=" + version
	if broken != "" {
		flags += " -X main.broken=" + broken
	}
	goBuild(t, "../reloadserver", flags, bin)
	return bin
}

type server struct {
	dir, events string
	tcp, unix   string
	udp         string
	env         []string
}

// newServer describes a server in dir listening on a TCP port, a Unix
// socket and a UDP port, with the graceful timeout grace.
func newServer(t *testing.T, dir, grace string) *server {
	s := &server{dir: dir, events: filepath.Join(dir, "events"),
		tcp: freePort(t), unix: filepath.Join(dir, "s.sock"), udp: freeUDP(t)}
	s.env = append(os.Environ(), "GOES_ADDR="+s.tcp, "GOES_UNIX="+s.unix, "GOES_UDP="+s.udp,
		"GOES_EVENTS="+s.events, "GOES_GRACE="+grace)
	return s
}

// startDaemon runs bin start -d, stopped when the test ends, and returns a
// connection to it with the first reply on it ("VERSION:PID").
func (s *server) startDaemon(t *testing.T, bin, version string) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	s.must(t, bin, "start", "-d")
	t.Cleanup(func() { s.run(t, bin, "stop") })
	c, err := net.Dial("tcp", s.tcp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := bufio.NewReader(c)
	first, err := ask(c, r, "hello")
	if err != nil || !strings.HasPrefix(first, version+":") {
		t.Fatalf("first reply %q %v, want version %s", first, err, version)
	}
	return c, r, first
}

func (s *server) run(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = s.dir, s.env
	done := make(chan struct{})
	var out []byte
	var err error
	go func() {
		out, err = cmd.CombinedOutput()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s %v did not finish: %s", bin, args, out)
	}
	return string(out), err
}

func (s *server) must(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := s.run(t, bin, args...)
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(bin), args, err, out)
	}
	return out
}

// ask sends a line on c and returns the reply's version and pid.
func ask(c net.Conn, r *bufio.Reader, line string) (string, error) {
	got, err := askOnce(c, r, line)
	if err == nil {
		seenPids.Store(strings.SplitN(got, ":", 2)[1], true)
	}
	return got, err
}

// seenPids holds every server process that answered, so that a test can
// make sure they all end.
var seenPids sync.Map

// waitAllExited fails unless every process that answered has exited.
func waitAllExited(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	seenPids.Range(func(k, _ any) bool {
		pid, _ := strconv.Atoi(k.(string))
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				t.Errorf("server process %d is still running", pid)
				return false
			}
			time.Sleep(50 * time.Millisecond)
		}
		seenPids.Delete(k)
		return true
	})
}

func askOnce(c net.Conn, r *bufio.Reader, line string) (string, error) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", line); err != nil {
		return "", err
	}
	reply, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	parts := strings.SplitN(strings.TrimSuffix(reply, "\n"), ":", 3)
	if len(parts) != 3 || parts[2] != line {
		return "", fmt.Errorf("bad reply %q to %q", reply, line)
	}
	return parts[0] + ":" + parts[1], nil
}

// Zero-downtime reload of a goes program under load: 50 clients in a
// bounded request/response loop through 5 reloads that alternate two
// builds; no request fails, no connection is refused, connections opened
// before a reload stay with the old process, the new code answers new
// connections, and TCP, Unix and UDP listeners all move over.
func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	v1 := buildReloadServer(t, dir, "v1", "")
	v2 := buildReloadServer(t, dir, "v2", "")
	broken := buildReloadServer(t, dir, "v3", "yes")
	s := newServer(t, dir, "20s")
	// A connection opened now stays with v1 through every reload.
	early, er, first := s.startDaemon(t, v1, "v1")

	// The load: 50 clients, each reconnecting every 20 requests.
	const clients = 50
	var ok, failed atomic.Int64
	var failures sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	deadline := time.Now().Add(90 * time.Second)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for n := 0; time.Now().Before(deadline); {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.DialTimeout("tcp", s.tcp, 5*time.Second)
				if err != nil {
					failed.Add(1)
					failures.Store(fmt.Sprintf("dial %d", i), err.Error())
					time.Sleep(10 * time.Millisecond)
					continue
				}
				r := bufio.NewReader(c)
				for k := 0; k < 20; k++ {
					n++
					if _, err := ask(c, r, fmt.Sprintf("c%d-%d", i, n)); err != nil {
						failed.Add(1)
						failures.Store(fmt.Sprintf("ask %d-%d", i, n), err.Error())
						break
					}
					ok.Add(1)
				}
				c.Close()
			}
		}(i)
	}

	versions := []string{"v2", "v1", "v2", "v1", "v2"}
	for i, v := range versions {
		time.Sleep(300 * time.Millisecond)
		bin := v1
		if v == "v2" {
			bin = v2
		}
		s.must(t, bin, "reload")
		// New connections reach the new code, on every listener.
		if got := askNew(t, "tcp", s.tcp); !strings.HasPrefix(got, v+":") {
			t.Fatalf("reload %d: tcp answered by %s, want %s", i, got, v)
		}
		if got := askNew(t, "unix", s.unix); !strings.HasPrefix(got, v+":") {
			t.Fatalf("reload %d: unix answered by %s, want %s", i, got, v)
		}
		if got := askUDP(t, s.udp); !strings.HasPrefix(got, v+":") {
			t.Fatalf("reload %d: udp answered by %s, want %s", i, got, v)
		}
		// The early connection is still served by the first process.
		if got, err := ask(early, er, fmt.Sprintf("still %d", i)); err != nil || got != first {
			t.Fatalf("early connection after reload %d: %q %v (first %q)", i, got, err, first)
		}
	}

	// A broken build: reload fails loudly, the running one is untouched.
	out, err := s.run(t, broken, "reload")
	if err == nil || !strings.Contains(out, "this release is broken") {
		t.Fatalf("broken reload: err %v, output:\n%s", err, out)
	}
	if got := askNew(t, "tcp", s.tcp); !strings.HasPrefix(got, "v2:") {
		t.Fatalf("after the broken reload: %s", got)
	}

	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 {
		var list []string
		failures.Range(func(k, v any) bool {
			list = append(list, fmt.Sprintf("%v: %v", k, v))
			return len(list) < 10
		})
		t.Fatalf("%d requests failed (%d ok): %v", failed.Load(), ok.Load(), list)
	}
	if ok.Load() < 1000 {
		t.Fatalf("only %d requests in the load", ok.Load())
	}
	t.Logf("%d requests, 0 failed, through %d reloads", ok.Load(), len(versions))

	// The first process finishes when its last connection closes: OnReload
	// and OnStop ran in it, observed from outside.
	early.Close()
	firstPid := strings.SplitN(first, ":", 2)[1]
	waitFile(t, s.events, "stop v1 "+firstPid)
	events, _ := os.ReadFile(s.events)
	if !strings.Contains(string(events), "reload v1 "+firstPid) {
		t.Fatalf("no OnReload in the first process:\n%s", events)
	}
	status := s.must(t, v2, "status")
	if !strings.Contains(status, "unix") || !strings.Contains(status, "udp") {
		t.Fatalf("status:\n%s", status)
	}
	s.must(t, v2, "stop")
	waitAllExited(t)
}

// Stop flushes a long answer being written before closing.
func TestStopFlushesFromOutside(t *testing.T) {
	dir := t.TempDir()
	v1 := buildReloadServer(t, dir, "v1", "")
	s := &server{dir: dir, tcp: freePort(t), events: filepath.Join(dir, "events")}
	s.env = append(os.Environ(), "GOES_ADDR="+s.tcp, "GOES_EVENTS="+s.events)
	s.must(t, v1, "start", "-d")
	t.Cleanup(func() { s.run(t, v1, "stop") })
	c, err := net.Dial("tcp", s.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const size = 8 << 20
	fmt.Fprintf(c, "big %d\n", size)
	// The reply's first bytes prove it is queued (a request still unread
	// when the server stops is not one it accepted); then nobody reads
	// while the stop begins, so most of the reply waits in the queue.
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 1<<16)
	got, err := io.ReadFull(c, buf[:len("v1:")])
	if err != nil {
		t.Fatalf("no reply: %v", err)
	}
	stopped := make(chan string, 1)
	go func() { out, _ := s.run(t, v1, "stop"); stopped <- out }()
	time.Sleep(200 * time.Millisecond)
	for {
		n, err := c.Read(buf)
		got += n
		if err != nil {
			break
		}
	}
	if want := len("v1:") + size + 1; got != want {
		t.Fatalf("got %d bytes before close, want %d", got, want)
	}
	// Closed at its EOF, as a peer does: the stop would otherwise wait
	// its CloseTimeout (5 s) for this end.
	c.Close()
	<-stopped
	waitFile(t, s.events, "stop v1")
	waitAllExited(t)
}

func askNew(t *testing.T, network, addr string) string {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s %s: %v", network, addr, err)
	}
	defer c.Close()
	got, err := ask(c, bufio.NewReader(c), "probe")
	if err != nil {
		t.Fatalf("%s: %v", network, err)
	}
	return got
}

func askUDP(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 512)
	for try := 0; try < 10; try++ {
		c.Write([]byte("probe\n"))
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := c.Read(buf)
		if err == nil {
			parts := strings.SplitN(strings.TrimSuffix(string(buf[:n]), "\n"), ":", 3)
			return parts[0] + ":" + parts[1]
		}
	}
	t.Fatal("udp: no answer")
	return ""
}

func freeUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

func waitFile(t *testing.T, path, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never got %q:\n%s", path, want, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
