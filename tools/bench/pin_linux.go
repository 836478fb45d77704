//go:build linux

package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"
)

// cpuMask is a sched_setaffinity mask for up to 1024 CPUs.
type cpuMask [16]uint64

func maskOf(cpus []int) (m cpuMask) {
	for _, c := range cpus {
		m[c/64] |= 1 << (c % 64)
	}
	return m
}

func setAffinity(tid int, m *cpuMask) error {
	_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(*m), uintptr(unsafe.Pointer(m)))
	if errno != 0 {
		return os.NewSyscallError("sched_setaffinity", errno)
	}
	return nil
}

func getAffinity(tid int, m *cpuMask) error {
	_, _, errno := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, uintptr(tid), unsafe.Sizeof(*m), uintptr(unsafe.Pointer(m)))
	if errno != 0 {
		return os.NewSyscallError("sched_getaffinity", errno)
	}
	return nil
}

// pinSelf holds every thread of this process, and so every thread and
// process it starts later, to cpus, as taskset does, and sizes GOMAXPROCS
// to them.
func pinSelf(cpus []int) error {
	m := maskOf(cpus)
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := setAffinity(tid, &m); err != nil {
			return fmt.Errorf("pin thread %d: %w", tid, err)
		}
	}
	runtime.GOMAXPROCS(len(cpus))
	return nil
}

// startPinned starts a process that runs on cpus from its first
// instruction (so its Go runtime sizes GOMAXPROCS to them): it is forked
// from a thread held to cpus for the moment.
func startPinned(start func() error, cpus []int) error {
	if len(cpus) == 0 {
		return start()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := syscall.Gettid()
	var old cpuMask
	if err := getAffinity(tid, &old); err != nil {
		return err
	}
	m := maskOf(cpus)
	if err := setAffinity(tid, &m); err != nil {
		return err
	}
	err := start()
	return errors.Join(err, setAffinity(tid, &old))
}
