//go:build unix

package daemon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// FuzzControlRequest sends arbitrary bytes to a running server's control
// socket: every request gets at most one answer that parses, and the
// server keeps answering afterwards. The commands that stop or reload are
// left out: they act, and are tested elsewhere.
func FuzzControlRequest(f *testing.F) {
	for _, seed := range []string{
		`{"cmd":"ping"}`, `{"cmd":"status"}`, `{"cmd":"connections"}`, `{"cmd":"nope"}`,
		`{"cmd":`, `[]`, `null`, "\x00\xff", `{"cmd":"ping","graceful":"x"}`, "",
	} {
		f.Add([]byte(seed + "\n"))
	}
	dir := f.TempDir()
	cfg := Config{Name: "fuzz", PidFile: filepath.Join(dir, "f.pid"), Args: []string{"start", "-q"}}
	fs := &fakeServer{}
	done := make(chan error, 1)
	go func() { done <- Run(cfg, fs.hooks()) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if pid, err := readPid(cfg.PidFile); err == nil && pid == os.Getpid() {
			break
		}
		if time.Now().After(deadline) {
			f.Fatal("server did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	f.Cleanup(func() {
		call(cfg.PidFile, request{Cmd: "stop"}, 5*time.Second)
		<-done
	})

	f.Fuzz(func(t *testing.T, data []byte) {
		var req request
		if json.Unmarshal(trimLine(data), &req) == nil && (req.Cmd == "stop" || req.Cmd == "reload") {
			return
		}
		c, err := net.Dial("unix", controlPath(cfg.PidFile))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(data)
		if len(data) == 0 || data[len(data)-1] != '\n' {
			c.(*net.UnixConn).CloseWrite()
		}
		line, err := bufio.NewReader(c).ReadBytes('\n')
		if err == nil {
			var resp response
			if err := json.Unmarshal(line, &resp); err != nil {
				t.Fatalf("unparsable answer %q: %v", line, err)
			}
		}
		resp, err := call(cfg.PidFile, request{Cmd: "ping"}, 5*time.Second)
		if err != nil || resp.Pid != os.Getpid() {
			t.Fatalf("server no longer answers: %v %+v", err, resp)
		}
	})
}

func trimLine(b []byte) []byte {
	for i, c := range b {
		if c == '\n' {
			return b[:i]
		}
	}
	return b
}

// FuzzReadPid: any pid file content gives a positive pid, taken from the
// first line, or an error; what is read is written back the same.
func FuzzReadPid(f *testing.F) {
	for _, seed := range []string{"123\n", "0", "-5", "", "abc", "99999999999999999999", " 42 \n\n", "1\x00",
		"7\nstart 123456\nexe /srv/app\n", "7\nexe /a b\nstart Mon Nov 30 05:37:18 2026\nother x\n", "\n7\n", "8\r\nstart \n"} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "p.pid")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		rec, err := readPidFile(p)
		if err == nil && rec.pid <= 0 {
			t.Fatalf("readPidFile(%q) = %d without error", data, rec.pid)
		}
		if err != nil {
			return
		}
		first, _, _ := bytes.Cut(data, []byte("\n"))
		if back, _ := strconv.Atoi(string(trimSpace(first))); back != rec.pid {
			t.Fatalf("readPidFile(%q) = %d", data, rec.pid)
		}
		again, err := parsePidFile(rec.format())
		if err != nil || again.pid != rec.pid || again.start != rec.start || again.exe != rec.exe {
			t.Fatalf("%q read as %+v, written as %q, read back as %+v, %v", data, rec, rec.format(), again, err)
		}
	})
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\t' || b[0] == '\r' || b[0] == '\v' || b[0] == '\f') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\n' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r' || b[len(b)-1] == '\v' || b[len(b)-1] == '\f') {
		b = b[:len(b)-1]
	}
	return b
}
