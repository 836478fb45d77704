//go:build !race

package tcp

import (
	"syscall"
	"unsafe"
)

// The epoll engine's system calls on its sockets never block: the sockets
// are non-blocking and epoll is asked not to wait. They go straight to the
// kernel (RawSyscall) without telling Go's scheduler that the thread is in
// a system call. Told, the scheduler may hand the loop's P to another
// thread while the call runs (its monitor takes a P back from a system
// call after 20 µs, which a busy core easily exceeds), and the loop's
// thread then has to get a P back: each time a futex wake-up and a switch.
//
// Under the race detector they are package syscall's, which tell the
// detector that what one goroutine wrote before a write to a descriptor
// happened before what another does after reading it (epoll_sys_race_linux.go).

// rawRead is read(2).
func rawRead(fd int, b []byte) (int, error) {
	r, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// rawWrite is write(2).
func rawWrite(fd int, b []byte) (int, error) {
	r, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if errno != 0 {
		return -1, errno
	}
	return int(r), nil
}

// epollCtl is epoll_ctl(2).
func epollCtl(epfd, op, fd int, ev *syscall.EpollEvent) error {
	_, _, errno := syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// epollWaitNow is epoll_pwait(2) with a timeout of 0: the events ready
// now, without waiting.
func epollWaitNow(epfd int, events []syscall.EpollEvent) (int, error) {
	r, _, errno := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(unsafe.SliceData(events))), uintptr(len(events)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}
