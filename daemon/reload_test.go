//go:build unix

package daemon

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// nonblocking tells whether the listener's descriptor is in non-blocking
// mode, as the runtime's poller needs it.
func nonblocking(t *testing.T, ln net.Listener) bool {
	t.Helper()
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	var ferr error
	if err := rc.Control(func(fd uintptr) { flags, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0) }); err != nil {
		t.Fatal(err)
	}
	if ferr != nil {
		t.Fatal(ferr)
	}
	return flags&unix.O_NONBLOCK != 0
}

// TestReloadKeepsListenerNonBlocking: handing the listening sockets to a new
// process must not switch the old process's own sockets into blocking mode
// (the descriptors share one open file description). If it did, a failed
// reload would leave an accept loop blocked in the kernel, and the next
// stop or reload would hang forever in Close, ignoring SIGTERM.
func TestReloadKeepsListenerNonBlocking(t *testing.T) {
	tests := []struct {
		name  string
		files func(ln *net.TCPListener) (map[string]*os.File, error)
	}{
		{"File", func(ln *net.TCPListener) (map[string]*os.File, error) {
			f, err := ln.File()
			return map[string]*os.File{"tcp": f}, err
		}},
		{"File then Fd", func(ln *net.TCPListener) (map[string]*os.File, error) {
			// A hook that asks for the raw descriptor, which switches it
			// to blocking mode.
			f, err := ln.File()
			if err == nil {
				f.Fd()
			}
			return map[string]*os.File{"tcp": f}, err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			cfg, _, _ := testConfig(t, "start")
			cfg.setDefaults()
			cfg.ReloadTimeout = 5 * time.Second
			s := newServer(cfg, Hooks{Files: func() (map[string]*os.File, error) { return tt.files(ln.(*net.TCPListener)) }}, false)
			// A new binary that fails at once.
			bad := filepath.Join(t.TempDir(), "bad")
			if err := os.WriteFile(bad, []byte("#!/bin/sh\necho reload test: a new binary that fails on purpose >&2\nexit 3\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			succ, resp := s.reload(bad, "", nil)
			if succ != nil || resp.OK || !strings.Contains(resp.Error, "keeps serving") || !strings.Contains(resp.Output, "fails on purpose") {
				t.Fatalf("reload of a failing binary: %+v", resp)
			}
			if !nonblocking(t, ln) {
				t.Fatal("the listening socket is in blocking mode after a failed reload")
			}
			// And the listener still closes at once while an Accept waits.
			accepted := make(chan error, 1)
			go func() { _, err := ln.Accept(); accepted <- err }()
			time.Sleep(50 * time.Millisecond)
			closed := make(chan struct{})
			go func() { ln.Close(); close(closed) }()
			select {
			case <-closed:
			case <-time.After(5 * time.Second):
				t.Fatal("Close of the listener hangs after a reload")
			}
			if err := <-accepted; err == nil {
				t.Error("Accept succeeded on a closed listener")
			}
		})
	}
}
