package udp_test

import (
	"net"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/shunhui19/goes/core"
)

// TestClientBindTo: datagrams leave from BindTo's address and port, and
// the answers come back there; a port in use fails the connect.
func TestClientBindTo(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("127.0.0.2 and 127.0.0.3 are local on Linux only")
	}
	srv := peer(t, "udp", "127.0.0.1:0")
	free := peer(t, "udp", "127.0.0.3:0")
	port3 := free.LocalAddr().(*net.UDPAddr).Port
	free.Close() // its port is free again for the client
	for _, tc := range []struct{ bind, want string }{
		{"127.0.0.2", "127.0.0.2:"},
		{"127.0.0.3:" + strconv.Itoa(port3), "127.0.0.3:" + strconv.Itoa(port3)},
	} {
		a := core.NewAsyncUdpConnection("udp://"+srv.LocalAddr().String(), nil)
		a.BindTo = tc.bind
		ev := watchUDP(t, a)
		connect(t, a)
		a.Send("from "+tc.bind, false)
		got, from := readFrom(t, srv)
		if got != "from "+tc.bind || !strings.HasPrefix(from.String(), tc.want) || from.String() != a.GetLocalAddress() {
			t.Errorf("BindTo %s: %q from %s, the client at %s", tc.bind, got, from, a.GetLocalAddress())
		}
		srv.WriteTo([]byte("back"), from)
		ev.waitMsg(t, "back")
		a.Close("")
		ev.waitClose(t)
	}

	busy := peer(t, "udp", "127.0.0.2:0")
	for _, tc := range []struct{ bind, why string }{
		{busy.LocalAddr().String(), "address already in use"},
		{"localhost", "not an IP address"},
	} {
		a := core.NewAsyncUdpConnection("udp://"+srv.LocalAddr().String(), nil)
		a.BindTo = tc.bind
		ev := watchUDP(t, a)
		a.Connect()
		ev.waitErr(t, core.ErrCodeConnectFail)
		ev.waitClose(t)
		if errs := ev.errList(); len(errs) != 1 || !strings.Contains(errs[0], tc.why) {
			t.Errorf("BindTo %s: errors %q, want one saying %q", tc.bind, errs, tc.why)
		}
		if c, _, _ := ev.counts(); c != 0 {
			t.Errorf("BindTo %s: OnConnect ran", tc.bind)
		}
	}
}

// TestClientUnixgramBindTo: a unixgram client bound to a path is answered
// there.
func TestClientUnixgramBindTo(t *testing.T) {
	dir := t.TempDir()
	srv := peer(t, "unixgram", filepath.Join(dir, "server.sock"))
	a := core.NewAsyncUdpConnection("unixgram://"+srv.LocalAddr().String(), nil)
	a.BindTo = filepath.Join(dir, "client.sock")
	ev := watchUDP(t, a)
	connect(t, a)
	a.Send("hello", false)
	got, from := readFrom(t, srv)
	if got != "hello" || from.String() != a.BindTo {
		t.Fatalf("%q from %v, want hello from %s", got, from, a.BindTo)
	}
	srv.WriteTo([]byte("back"), from)
	ev.waitMsg(t, "back")
}
