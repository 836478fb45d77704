package tcp_test

import (
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// fullBacklog returns a loopback address whose listening socket has a
// backlog of 0 that is already full and never accepted: connects to it
// go unanswered, as to a blackholed address.
func fullBacklog(t *testing.T) string { return newBacklogListener(t).addr }

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
