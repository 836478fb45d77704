//go:build !linux

// Command rawproxy is tools/bench's reference proxy, written on Linux system
// calls (epoll); elsewhere it only says so.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "rawproxy: Linux only (epoll)")
	os.Exit(2)
}
