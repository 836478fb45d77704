package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// A consumer is a program outside the repository, in its own module, that
// go gets only the goes modules it needs (testdata/consumer/NAME).
type consumer struct {
	name    string
	modules []string // module directories it go gets
	// mustNotLink are module paths that go version -m of the program must
	// not list; mustNotGraph module paths that its go mod graph must not.
	mustNotLink, mustNotGraph []string
	exchange                  func(addr string) error // one request, one answer
}

var consumers = []consumer{
	{
		name:         "tcp",
		modules:      []string{"core", "protocol/text", "transport/tcp"},
		mustNotLink:  []string{"github.com/gobwas/ws", "/protocol/http", "/protocol/websocket"},
		mustNotGraph: []string{"/protocol/http@", "/protocol/websocket@"},
		exchange:     textExchange,
	},
	{name: "http", modules: []string{"core", "protocol/http", "transport/tcp"}, exchange: httpExchange},
	{name: "websocket", modules: []string{"core", "protocol/websocket", "transport/tcp"}, exchange: wsExchange},
}

// The modules work for a program outside the repository: each consumer,
// in a fresh module, go gets the modules it needs from a throwaway copy of
// the repository tagged at the version the go.mod files name, builds with
// GOWORK=off, serves one request and stops.
func TestConsumer(t *testing.T) {
	onceOnly(t)
	ws, sb := consumerSandbox(t)
	version, err := ws.lockstepVersion()
	if err != nil {
		t.Fatal(err)
	}
	if err := tagAll(sb, ws, version); err != nil {
		t.Fatal(err)
	}
	if err := checkResolvable(sb, ws); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	for _, c := range consumers {
		t.Run(c.name, func(t *testing.T) {
			dir, out, err := goGet(sb, ws, c, version)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(out, "upgraded go") {
				t.Errorf("go get raised the consumer's go version: some goes module's go line is lower than what it needs:\n%s", out)
			}
			bin := filepath.Join(dir, c.name)
			if _, err := sb.Run(dir, "go", "build", "-trimpath", "-o", bin, "."); err != nil {
				t.Fatal(err)
			}
			checkLinked(t, sb, ws, c, bin, version)
			graph, err := sb.Run(dir, "go", "mod", "graph")
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range c.mustNotGraph {
				if strings.Contains(graph, ws.RepoPath+m) {
					t.Errorf("go mod graph of %s lists %s:\n%s", c.name, strings.TrimSuffix(m, "@"), graph)
				}
			}
			serveOnce(t, dir, bin, c.exchange)
		})
	}
	t.Logf("%d consumers in %v", len(consumers), time.Since(began).Round(time.Second))
}

// The consumer test fails when a go.mod names a sibling version that has
// no tag. Here every module names daemon at v0.8.0 while the tags are
// v0.9.0: the mistake of naming v0.0.0 with no such release.
func TestConsumerFailsOnUnresolvableSiblingVersion(t *testing.T) {
	onceOnly(t)
	ws, sb := consumerSandbox(t)
	const version, bad = "v0.9.0", "v0.8.0"
	daemon := ws.RepoPath + "/daemon"
	for _, m := range ws.Modules {
		for _, s := range sortedKeys(m.Siblings) {
			v := version
			if s == daemon {
				v = bad
			}
			if _, err := sb.Run(filepath.Join(sb.Repo, filepath.FromSlash(m.Dir)), "go", "mod", "edit", "-require="+s+"@"+v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := sb.Git("commit", "-q", "-am", "daemon named at a version that has no tag"); err != nil {
		t.Fatal(err)
	}
	broken, err := loadWorkspace(sb.Repo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := broken.lockstepVersion(); err == nil || !strings.Contains(err.Error(), "core requires "+daemon+" "+bad) {
		t.Errorf("lockstepVersion: %v; want the requirement on daemon %s named", err, bad)
	}
	if err := tagAll(sb, broken, version); err != nil {
		t.Fatal(err)
	}
	if err := checkResolvable(sb, broken); err == nil || !strings.Contains(err.Error(), "daemon/"+bad) {
		t.Errorf("checkResolvable: %v; want daemon/%s unresolved", err, bad)
	}
	_, out, err := goGet(sb, broken, consumers[0], version)
	if err == nil {
		t.Fatalf("go get succeeded although every module requires daemon %s, which has no tag:\n%s", bad, out)
	}
	if !strings.Contains(err.Error(), "daemon/"+bad) || !strings.Contains(err.Error(), "unknown revision") {
		t.Errorf("go get failed, but not on the missing tag daemon/%s: %v", bad, err)
	}
}

// checkResolvable asks the go command for every sibling version that a
// go.mod names, from the throwaway repository: a version without its tag
// does not resolve.
func checkResolvable(sb *sandbox, ws *workspace) error {
	seen := map[string]bool{}
	var args []string
	for _, m := range ws.Modules {
		for _, s := range sortedKeys(m.Siblings) {
			if mv := s + "@" + m.Siblings[s]; !seen[mv] {
				seen[mv] = true
				args = append(args, mv)
			}
		}
	}
	dir := filepath.Join(sb.Dir, "resolve")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	_, err := sb.Run(dir, "go", append([]string{"mod", "download"}, args...)...)
	return err
}

// consumerSandbox makes a sandbox whose throwaway repository holds the
// work tree of this repository as it is on disk.
func consumerSandbox(t *testing.T) (*workspace, *sandbox) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed: the consumer test serves the modules from a throwaway git repository")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	ws, err := loadWorkspace(root)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := newSandbox(t.TempDir(), ws.RepoPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	if err := sb.CopyWorkTree(root); err != nil {
		t.Fatal(err)
	}
	return ws, sb
}

// tagAll tags every module of the throwaway repository at version, on its
// head; it moves tags that exist.
func tagAll(sb *sandbox, ws *workspace, version string) error {
	for _, m := range ws.Modules {
		if _, err := sb.Git("tag", "-f", m.Tag(version)); err != nil {
			return err
		}
	}
	return nil
}

// goGet makes the consumer's module and go gets its goes modules. Its go
// line is the highest of those modules' go lines, so that go get says so
// if anything they need asks for more. It returns the module's directory
// and go get's output.
func goGet(sb *sandbox, ws *workspace, c consumer, version string) (string, string, error) {
	dir := filepath.Join(sb.Dir, "consumer", c.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	src, err := os.ReadFile(filepath.Join("testdata", "consumer", c.name, "main.go"))
	if err != nil {
		return "", "", err
	}
	goLine := "1.21"
	var args []string
	for _, d := range c.modules {
		m := ws.module(ws.RepoPath + "/" + d)
		if m == nil {
			return "", "", fmt.Errorf("go.work has no module %s", d)
		}
		if semver.Compare("v"+m.Go, "v"+goLine) > 0 {
			goLine = m.Go
		}
		args = append(args, m.Path+"@"+version)
	}
	gomod := fmt.Sprintf("module example.com/goes-consumer/%s\n\ngo %s\n", c.name, goLine)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
		return "", "", err
	}
	out, err := sb.Run(dir, "go", append([]string{"get"}, args...)...)
	return dir, out, err
}

// checkLinked reads go version -m of the program: the goes modules it got
// are linked at the version, and nothing of mustNotLink is.
func checkLinked(t *testing.T, sb *sandbox, ws *workspace, c consumer, bin, version string) {
	t.Helper()
	info, err := sb.Run(filepath.Dir(bin), "go", "version", "-m", bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range c.modules {
		if want := "\tdep\t" + ws.RepoPath + "/" + d + "\t" + version + "\t"; !strings.Contains(info, want) {
			t.Errorf("go version -m of %s does not list %s %s:\n%s", c.name, d, version, info)
		}
	}
	for _, m := range c.mustNotLink {
		if strings.Contains(info, m) {
			t.Errorf("%s links %s:\n%s", c.name, m, info)
		}
	}
	// The modules the program required are what its go.mod says.
	data, err := os.ReadFile(filepath.Join(filepath.Dir(bin), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Require {
		if strings.HasPrefix(r.Mod.Path, ws.RepoPath+"/") && r.Mod.Version != version {
			t.Errorf("%s requires %s %s, not %s", c.name, r.Mod.Path, r.Mod.Version, version)
		}
	}
}

// serveOnce starts the program, makes one exchange with it and stops it
// with its own stop command.
func serveOnce(t *testing.T, dir, bin string, exchange func(string) error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	env := append(os.Environ(), "GOES_ADDR="+addr)
	var out syncBuffer
	cmd := exec.Command(bin, "start")
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	waited := false
	defer func() {
		if !waited {
			cmd.Process.Kill()
			<-exited
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s start: not listening on %s after 20 s: %v\n%s", filepath.Base(bin), addr, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := exchange(addr); err != nil {
		t.Errorf("%s: %v\n%s", filepath.Base(bin), err, out.String())
	}
	stop := exec.Command(bin, "stop")
	stop.Dir, stop.Env = dir, env
	if b, err := stop.CombinedOutput(); err != nil {
		t.Fatalf("%s stop: %v\n%s", filepath.Base(bin), err, b)
	}
	select {
	case err := <-exited:
		waited = true
		if err != nil {
			t.Fatalf("%s exited with %v\n%s", filepath.Base(bin), err, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not exit 20 s after stop\n%s", filepath.Base(bin), out.String())
	}
}

func textExchange(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("goes\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("read: %w (got %q)", err, line)
	}
	if line != "hello, goes\n" {
		return fmt.Errorf("answer %q, want %q", line, "hello, goes\n")
	}
	return nil
}

func httpExchange(addr string) error {
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/consumer")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || string(body) != "hello from /consumer" {
		return fmt.Errorf("answer %s %q, want 200 %q", resp.Status, body, "hello from /consumer")
	}
	return nil
}

func wsExchange(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, _, err := ws.Dial(ctx, "ws://"+addr+"/")
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := wsutil.WriteClientText(c, []byte("goes")); err != nil {
		return err
	}
	data, op, err := wsutil.ReadServerData(c)
	if err != nil {
		return err
	}
	if op != ws.OpText || string(data) != "goes" {
		return fmt.Errorf("answer %v %q, want a text message %q", op, data, "goes")
	}
	return nil
}

// syncBuffer collects a process's output, written from os/exec's copying
// goroutines and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
