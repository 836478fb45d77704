//go:build unix

package daemon_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/shunhui19/goes/daemon"
)

// A server plugs into the lifecycle with hooks. Here the command is status,
// and nothing is running yet.
func ExampleRun() {
	var ln net.Listener
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	err := daemon.Run(daemon.Config{
		Name:    "echo",
		PidFile: filepath.Join(dir, "echo.pid"),
		Args:    []string{"status"}, // normally os.Args[1:]
		Stderr:  io.Discard,         // where the command's messages go
	}, daemon.Hooks{
		Listen: func(inherited map[string]*os.File) (err error) {
			if f, ok := inherited["tcp:127.0.0.1:8080"]; ok {
				ln, err = net.FileListener(f) // a reload: adopt the old socket
				return err
			}
			ln, err = net.Listen("tcp", "127.0.0.1:8080")
			return err
		},
		Serve: func() error { go serve(ln); return nil },
		Files: func() (map[string]*os.File, error) {
			f, err := ln.(*net.TCPListener).File()
			return map[string]*os.File{"tcp:127.0.0.1:8080": f}, err
		},
		Stop: func(graceful bool, timeout time.Duration) { ln.Close() },
	})
	fmt.Println(err, "- exit status", daemon.ExitCode(err))
	// Output: goes: not running - exit status 3
}

func serve(ln net.Listener) {}

func ExampleExitCode() {
	fmt.Println(daemon.ExitCode(nil), daemon.ExitCode(daemon.ErrUsage), daemon.ExitCode(daemon.ErrNotRunning), daemon.ExitCode(daemon.ErrReloadFailed))
	// Output: 0 2 3 1
}
