package tcp_test

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// fullBacklog returns a loopback address whose listening socket has a
// backlog of 0 that is already full and never accepted: connects to it
// go unanswered, as to a blackholed address.
func fullBacklog(t *testing.T) string {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the queue; the connects past it hang until their timeout.
	for range 4 {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	return addr
}

func TestClientConnectTimeout(t *testing.T) {
	addr := fullBacklog(t)
	a := core.NewAsyncConnection("tcp://"+addr, nil)
	a.ConnectTimeout = 300 * time.Millisecond
	ev := watch(a)
	begin := time.Now()
	a.Connect()
	a.Send("queued", true)
	ev.waitClose(t, 5*time.Second)
	took := time.Since(begin)
	ev.get(func(e *clientEvents) bool {
		if len(e.codes) != 1 || e.codes[0] != core.ErrCodeConnectFail || !strings.Contains(e.errs[0], core.ErrConnectTimeout.Error()) {
			t.Errorf("codes %v errs %q", e.codes, e.errs)
		}
		return true
	})
	if took < 250*time.Millisecond || took > 2*time.Second {
		t.Errorf("the timeout was reported after %v, want about 300ms", took)
	}
}
