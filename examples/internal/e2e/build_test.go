package e2e

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// The package's tests build the same few programs many times (the
// reloadserver's v1 in five tests, the chat, cluster and tcp examples in
// two). Each distinct build (package and -ldflags) runs once per test
// binary; a test gets its own copy at the path it asks for, as if it had
// built it there.
var builds struct {
	mu   sync.Mutex
	dir  string // removed by TestMain
	done map[string]*built
}

type built struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	builds.mu.Lock()
	if builds.dir != "" {
		os.RemoveAll(builds.dir)
	}
	builds.mu.Unlock()
	os.Exit(code)
}

// goBuild builds pkg with ldflags (may be "") to bin.
func goBuild(t *testing.T, pkg, ldflags, bin string) {
	t.Helper()
	key := pkg + "\x00" + ldflags
	builds.mu.Lock()
	if builds.done == nil {
		builds.done = map[string]*built{}
	}
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", "goes-e2e-bin")
		if err != nil {
			builds.mu.Unlock()
			t.Fatal(err)
		}
		builds.dir = dir
	}
	b := builds.done[key]
	if b == nil {
		b = &built{path: filepath.Join(builds.dir, fmt.Sprint(len(builds.done)), filepath.Base(pkg))}
		builds.done[key] = b
	}
	builds.mu.Unlock()
	b.once.Do(func() {
		args := []string{"build"}
		if ldflags != "" {
			args = append(args, "-ldflags", ldflags)
		}
		cmd := exec.Command("go", append(args, "-o", b.path, pkg)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	if err := copyFile(b.path, bin); err != nil {
		t.Fatal(err)
	}
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}
