//go:build unix

package main

import (
	"os"
	"strconv"
	"syscall"
	"time"
)

// guard ends this process when the test that started it is gone, so that
// no test server outlives its test, however the test ended.
func guard() {
	pid, err := strconv.Atoi(os.Getenv("TESTSERVER_GUARD_PID"))
	if err != nil || pid <= 0 {
		return
	}
	go func() {
		for {
			if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
				os.Exit(4)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
}
