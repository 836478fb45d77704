//go:build race

package tcp

import "syscall"

// See epoll_sys_linux.go: with the race detector the epoll engine's
// system calls are package syscall's, whose reads and writes the detector
// counts as synchronisation, as it does for every other file in the
// program.

func rawRead(fd int, b []byte) (int, error)  { return syscall.Read(fd, b) }
func rawWrite(fd int, b []byte) (int, error) { return syscall.Write(fd, b) }

func epollCtl(epfd, op, fd int, ev *syscall.EpollEvent) error {
	return syscall.EpollCtl(epfd, op, fd, ev)
}

func epollWaitNow(epfd int, events []syscall.EpollEvent) (int, error) {
	return syscall.EpollWait(epfd, events, 0)
}
