package http_test

import (
	"context"
	"io"
	nethttp "net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
)

// preconditionServer serves dir under /s/ (Static) and, for any method,
// the file named by the last path element of other paths (SendFile). The
// file f.txt is modified at mod.
func preconditionServer(t *testing.T) (addr, etag string, mod time.Time) {
	t.Helper()
	dir := t.TempDir()
	name := filepath.Join(dir, "f.txt")
	if err := os.WriteFile(name, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	mod = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(name, mod, mod); err != nil {
		t.Fatal(err)
	}
	p := http.New()
	p.ServeDir("/s/", dir)
	addr = serve(t, p, func(c core.Connection, _ []byte) {
		r := http.RequestOf(c)
		r.Response().SendFile(filepath.Join(dir, filepath.Base(r.Path())))
	})
	resp, err := nethttp.Get("http://" + addr + "/s/f.txt")
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	return addr, resp.Header.Get("ETag"), mod
}

// TestFilePreconditions: If-Match and If-Unmodified-Since are evaluated
// (RFC 9110 §13.1.1, §13.1.4), in the order of §13.2.2, before
// If-None-Match, If-Modified-Since and Range; a false one is answered 412.
func TestFilePreconditions(t *testing.T) {
	addr, etag, mod := preconditionServer(t)
	if etag == "" {
		t.Fatal("no ETag")
	}
	at := func(d time.Duration) string { return mod.Add(d).Format(http.TimeFormat) }
	const body = "0123456789"
	tests := []struct {
		name, method, path string
		hdr                []string
		status             int
		body               string
	}{
		{"If-Match current", "GET", "/s/f.txt", []string{"If-Match", etag}, 200, body},
		{"If-Match other", "GET", "/s/f.txt", []string{"If-Match", `"x"`}, 412, ""},
		{"If-Match any", "GET", "/s/f.txt", []string{"If-Match", "*"}, 200, body},
		{"If-Match list", "GET", "/s/f.txt", []string{"If-Match", `"x", ` + etag}, 200, body},
		{"If-Match weak never matches", "GET", "/s/f.txt", []string{"If-Match", "W/" + etag}, 412, ""},
		{"If-Unmodified-Since equal", "GET", "/s/f.txt", []string{"If-Unmodified-Since", at(0)}, 200, body},
		{"If-Unmodified-Since later", "GET", "/s/f.txt", []string{"If-Unmodified-Since", at(time.Hour)}, 200, body},
		{"If-Unmodified-Since earlier", "GET", "/s/f.txt", []string{"If-Unmodified-Since", at(-time.Hour)}, 412, ""},
		{"If-Unmodified-Since invalid is ignored", "GET", "/s/f.txt", []string{"If-Unmodified-Since", "yesterday"}, 200, body},
		{"If-Match wins over If-Unmodified-Since", "GET", "/s/f.txt", []string{"If-Match", etag, "If-Unmodified-Since", at(-time.Hour)}, 200, body},
		{"If-Match before If-None-Match", "GET", "/s/f.txt", []string{"If-Match", `"x"`, "If-None-Match", etag}, 412, ""},
		{"If-Unmodified-Since before If-None-Match", "GET", "/s/f.txt", []string{"If-Unmodified-Since", at(-time.Hour), "If-None-Match", etag}, 412, ""},
		{"If-Match then If-None-Match", "GET", "/s/f.txt", []string{"If-Match", etag, "If-None-Match", etag}, 304, ""},
		{"If-None-Match wins over If-Modified-Since", "GET", "/s/f.txt", []string{"If-None-Match", `"x"`, "If-Modified-Since", at(0)}, 200, body},
		{"If-Match before Range", "GET", "/s/f.txt", []string{"If-Match", `"x"`, "Range", "bytes=0-1"}, 412, ""},
		{"If-Unmodified-Since then Range", "GET", "/s/f.txt", []string{"If-Unmodified-Since", at(0), "Range", "bytes=0-1"}, 206, "01"},
		{"HEAD If-Match other", "HEAD", "/s/f.txt", []string{"If-Match", `"x"`}, 412, ""},
		{"SendFile If-Match other", "GET", "/f.txt", []string{"If-Match", `"x"`}, 412, ""},
		{"SendFile POST If-None-Match current", "POST", "/f.txt", []string{"If-None-Match", etag}, 412, ""},
		{"SendFile POST If-Unmodified-Since earlier", "POST", "/f.txt", []string{"If-Unmodified-Since", at(-time.Hour)}, 412, ""},
		{"SendFile POST If-Match current", "POST", "/f.txt", []string{"If-Match", etag}, 200, body},
	}
	cl := client(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := nethttp.NewRequest(tt.method, "http://"+addr+tt.path, nil)
			for i := 0; i+1 < len(tt.hdr); i += 2 {
				req.Header.Set(tt.hdr[i], tt.hdr[i+1])
			}
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, resp)
			if tt.status == 412 && tt.method != "HEAD" {
				got = "" // the body is a short text; the status is the answer
			}
			if resp.StatusCode != tt.status || got != tt.body {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, got, tt.status, tt.body)
			}
		})
	}
}

// TestFilePreconditionsCurl: the same answers to curl's own requests.
func TestFilePreconditionsCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed: apt-get install curl")
	}
	addr, etag, mod := preconditionServer(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"If-Match other", []string{"-H", `If-Match: "x"`}, "412"},
		{"If-Match current", []string{"-H", "If-Match: " + etag}, "200"},
		{"If-Unmodified-Since earlier", []string{"-z", "-" + mod.Add(-time.Hour).Format(http.TimeFormat)}, "412"},
		{"If-Unmodified-Since later", []string{"-z", "-" + mod.Add(time.Hour).Format(http.TimeFormat)}, "200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			// The status line, not -w %{http_code}: curl reports a time
			// condition it finds unmet itself as 304.
			args := append([]string{"-sS", "-o", os.DevNull, "-D", "-"}, tt.args...)
			cmd := exec.CommandContext(ctx, curl, append(args, "http://"+addr+"/s/f.txt")...)
			cmd.Stderr = io.Discard
			out, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			if status, _, _ := strings.Cut(string(out), "\r\n"); !strings.HasPrefix(status, "HTTP/1.1 "+tt.want+" ") {
				t.Fatalf("status line %q, want %s", status, tt.want)
			}
		})
	}
}
