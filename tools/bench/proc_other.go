//go:build !linux

package main

import (
	"errors"
	"os"
	"syscall"
	"time"
)

var errUnsupported = errors.New("bench: process statistics need Linux /proc")

func procCPU(int) (time.Duration, time.Duration, error) { return 0, 0, errUnsupported }
func procMem(int) (rss, hwm int64, err error)           { return 0, 0, errUnsupported }
func parseStatCPU([]byte) (time.Duration, time.Duration, error) {
	return 0, 0, errUnsupported
}
func parseStatusMem([]byte) (int64, int64, error) {
	return 0, 0, errUnsupported
}
func raiseFileLimit() (uint64, error) { return 0, errUnsupported }
func childAttr() *syscall.SysProcAttr { return nil }

func signalGroup(pid int, sig syscall.Signal) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Signal(sig)
}
