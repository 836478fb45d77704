package natsbus_test

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/shunhui19/goes/cluster"
	"github.com/shunhui19/goes/cluster/embed"
	"github.com/shunhui19/goes/cluster/natsbus"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		// A child node: it runs until killed (see TestKilledNode).
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m)
}

// Short times so that the tests see heartbeats and timeouts pass.
const (
	heartbeat    = 100 * time.Millisecond
	peerTimeout  = 300 * time.Millisecond
	queryTimeout = 500 * time.Millisecond
)

func startNATS(t testing.TB, addr string) *embed.Server {
	t.Helper()
	s, err := embed.Start(embed.Options{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func newNode(t testing.TB, url string) *cluster.Node {
	t.Helper()
	n, err := dialNode(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

func dialNode(url string) (*cluster.Node, error) {
	bus, err := natsbus.Connect(url, nats.ReconnectWait(50*time.Millisecond), nats.ReconnectJitter(0, 0))
	if err != nil {
		return nil, err
	}
	n, err := cluster.New(cluster.Config{Bus: bus, Heartbeat: heartbeat, PeerTimeout: peerTimeout, QueryTimeout: queryTimeout})
	if err != nil {
		bus.Close()
	}
	return n, err
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var bg = context.Background()
