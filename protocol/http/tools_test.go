package http_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
)

func lookTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed: skipping the %s tests", name, name)
	}
	return path
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func TestCurl(t *testing.T) {
	curl := lookTool(t, "curl")
	dir := t.TempDir()
	file := bytes.Repeat([]byte("curl upload "), 200000) // 2.4 MB: curl sends Expect: 100-continue
	name := filepath.Join(dir, "up.bin")
	os.WriteFile(name, file, 0o644)
	sum := sha256.Sum256(file)
	addr := serve(t, http.New(), func(c core.Connection, data []byte) {
		r := http.RequestOf(c)
		switch r.Path() {
		case "/upload":
			fh, err := r.FormFile("file")
			if err != nil {
				r.Response().Status(400).SendString(err.Error())
				return
			}
			f, _ := fh.Open()
			b, _ := io.ReadAll(f)
			f.Close()
			s := sha256.Sum256(b)
			c.Send(fmt.Sprintf("%s %s %x", r.FormValue("title"), fh.Filename, s[:4]), false)
		case "/raw":
			s := sha256.Sum256(data)
			c.Send(fmt.Sprintf("%s %d %x", r.Header("Expect"), len(data), s[:4]), false)
		case "/file":
			r.Response().SendFile(name)
		default:
			c.Send("hello, goer", false)
		}
	})
	base := "http://" + addr
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"get", []string{"-sS", "-i", base + "/"}, "hello, goer"},
		{"http1.0", []string{"-sS", "-i", "--http1.0", base + "/"}, "Connection: close"},
		{"keep-alive reuse", []string{"-sS", "-v", base + "/", base + "/"}, "existing"},
		{"head", []string{"-sS", "-I", base + "/"}, "Content-Length: 11"},
		{"upload", []string{"-sS", "-F", "title=report", "-F", "file=@" + name, base + "/upload"}, fmt.Sprintf("report up.bin %x", sum[:4])},
		{"100-continue", []string{"-sS", "-H", "Expect: 100-continue", "--data-binary", "@" + name, base + "/raw"}, fmt.Sprintf("100-continue %d %x", len(file), sum[:4])},
		{"chunked upload", []string{"-sS", "-H", "Transfer-Encoding: chunked", "--data-binary", "@" + name, base + "/raw"}, fmt.Sprintf(" %d %x", len(file), sum[:4])},
		{"range", []string{"-sS", "-r", "0-3", base + "/file"}, "curl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := runTool(t, curl, append([]string{"--max-time", "20"}, tt.args...)...)
			if !strings.Contains(out, tt.want) {
				t.Fatalf("output lacks %q:\n%s", tt.want, out)
			}
		})
	}
}

// TestWrk: a short, bounded wrk run against the hello-world server finishes
// without socket errors or non-2xx answers.
func TestWrk(t *testing.T) {
	wrk := lookTool(t, "wrk")
	addr := serve(t, http.New(), hello)
	out := runTool(t, wrk, "-t", "2", "-c", "50", "-d", "2s", "--timeout", "2s", "http://"+addr+"/")
	if strings.Contains(out, "Socket errors") || strings.Contains(out, "Non-2xx") {
		t.Fatalf("wrk saw errors:\n%s", out)
	}
	m := regexp.MustCompile(`(\d+) requests in`).FindStringSubmatch(out)
	if m == nil || m[1] == "0" {
		t.Fatalf("wrk made no requests:\n%s", out)
	}
	t.Logf("wrk: %s requests in 2s", m[1])
}
