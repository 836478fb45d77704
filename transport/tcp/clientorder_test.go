package tcp_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

// TestReconnectWaitsForOnClose: whatever starts the next connect (Reconnect
// on an open connection, Reconnect or Connect from OnClose, AutoReconnect
// after the server closed), the new connection's OnConnect runs only after
// the old one's OnClose has returned, even when OnClose takes its time.
func TestReconnectWaitsForOnClose(t *testing.T) {
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	g.OnMessage = func(c core.Connection, d []byte) {
		if string(d) == "bye" {
			c.Close("")
		}
	}
	addr := start(t, g)
	for _, tc := range []struct {
		name    string
		auto    bool
		trigger func(a *core.AsyncConnection) // once connected
		onClose func(a *core.AsyncConnection) // at the start of the first OnClose
	}{
		{name: "Reconnect while open", trigger: func(a *core.AsyncConnection) { a.Reconnect(0) }},
		{name: "Reconnect from OnClose", trigger: func(a *core.AsyncConnection) { a.Send("bye", false) },
			onClose: func(a *core.AsyncConnection) { a.Reconnect(0) }},
		{name: "Connect from OnClose", trigger: func(a *core.AsyncConnection) { a.Send("bye", false) },
			onClose: func(a *core.AsyncConnection) { a.Connect() }},
		{name: "AutoReconnect", auto: true, trigger: func(a *core.AsyncConnection) { a.Send("bye", false) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := core.NewAsyncConnection("tcp://"+addr, lines{})
			if tc.auto {
				a.AutoReconnect = &core.Backoff{Initial: time.Millisecond, Max: time.Millisecond}
			}
			var inClose, overlaps, connects, closes atomic.Int32
			a.OnConnect = func(core.Connection) {
				if inClose.Load() != 0 {
					overlaps.Add(1)
				}
				connects.Add(1)
			}
			a.OnClose = func(core.Connection) {
				inClose.Add(1)
				if closes.Add(1) == 1 && tc.onClose != nil {
					tc.onClose(a)
				}
				time.Sleep(150 * time.Millisecond)
				inClose.Add(-1)
			}
			a.Connect()
			waitFor(t, "the first connect", func() bool { return connects.Load() == 1 })
			tc.trigger(a)
			waitFor(t, "the second connect", func() bool { return connects.Load() == 2 })
			if closes.Load() != 1 || inClose.Load() != 0 || overlaps.Load() != 0 {
				t.Errorf("OnConnect ran while OnClose ran %d times (OnClose began %d times)", overlaps.Load(), closes.Load())
			}
			a.Close("")
			waitFor(t, "the last OnClose", func() bool { return closes.Load() == 2 && inClose.Load() == 0 })
			time.Sleep(50 * time.Millisecond)
			if n := connects.Load(); n != 2 {
				t.Errorf("%d connects after Close, want 2", n)
			}
		})
	}
}
