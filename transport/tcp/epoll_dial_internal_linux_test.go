package tcp

import (
	"context"
	"net"
	"testing"
	"time"
)

// A client socket that core closes without serving it (a Destroy while the
// socket was being made) leaves the client engine: its loops stop.
func TestClientSocketClosedUnserved(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, network := range []string{"tcp", "tcp4"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		sock, err := dialEpoll(ctx, network, ln.Addr().String(), nil)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if clientLoops() == 0 {
			t.Fatal("a connected client socket has no loops")
		}
		if got := sock.RemoteAddr().String(); got != ln.Addr().String() {
			t.Errorf("RemoteAddr %s, want %s", got, ln.Addr())
		}
		sock.Close()
		sock.Close() // a second close changes nothing
		deadline := time.Now().Add(5 * time.Second)
		for clientLoops() != 0 {
			if time.Now().After(deadline) {
				t.Fatal("the client loops still run after the only client socket closed")
			}
			time.Sleep(time.Millisecond)
		}
	}
}
