//go:build !linux

package main

import "errors"

func pinSelf([]int) error { return errors.New("bench: pinning needs Linux") }

func startPinned(start func() error, cpus []int) error {
	if len(cpus) > 0 {
		return errors.New("bench: pinning needs Linux")
	}
	return start()
}
