package natsbus_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/cluster"
	"github.com/shunhui19/goes/cluster/internal/testnode"
	"github.com/shunhui19/goes/cluster/natsbus"
)

// slowHelloBus answers hellos late: it delivers a hello (a message on the
// heartbeat subject with an address for the answer) only after delay, as a
// node busy in a long callback would. Its heartbeats go on meanwhile.
type slowHelloBus struct {
	*natsbus.Bus
	delay time.Duration
}

func (s slowHelloBus) Start(deliver func(cluster.Msg)) error {
	return s.Bus.Start(func(m cluster.Msg) {
		if strings.HasSuffix(m.Subject, ".hb") && m.Reply != "" {
			time.Sleep(s.delay)
		}
		deliver(m)
	})
}

// deafBus does not hear the other nodes' heartbeats: the node learns its
// peers only from the answers to its hello.
type deafBus struct{ *natsbus.Bus }

func (d deafBus) Start(deliver func(cluster.Msg)) error {
	return d.Bus.Start(func(m cluster.Msg) {
		if !strings.HasSuffix(m.Subject, ".hb") || m.Reply != "" {
			deliver(m)
		}
	})
}

// TestJoinWhileOthersRun: a node that joins while two others run, whose
// answers to its hello come after the hello stopped waiting (and long
// before their next heartbeat), counts both at once, or says its answer
// is partial; it never leaves them out silently.
func TestJoinWhileOthersRun(t *testing.T) {
	const (
		beat  = 2 * time.Second // far apart: a peer is learned from its answer, not its heartbeat
		query = 3 * time.Second
		delay = 400 * time.Millisecond // past the hello's wait
	)
	srv := startNATS(t, "")
	join := func(wrap func(*natsbus.Bus) cluster.Bus) *cluster.Node {
		t.Helper()
		b, err := natsbus.Connect(srv.ClientURL())
		must(t, err)
		var bus cluster.Bus = b
		if wrap != nil {
			bus = wrap(b)
		}
		n, err := cluster.New(cluster.Config{Bus: bus, Heartbeat: beat, QueryTimeout: query})
		if err != nil {
			b.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	var running []*cluster.Node
	for range 2 {
		n := join(func(b *natsbus.Bus) cluster.Bus { return slowHelloBus{b, delay} })
		testnode.Start(t, n).Dial(t)
		running = append(running, n)
	}
	testnode.Eventually(t, 10*time.Second, "the running nodes know each other", func() bool {
		return len(running[0].Peers()) == 1 && len(running[1].Peers()) == 1
	})

	t.Run("count waits for the peers", func(t *testing.T) {
		n := join(nil)
		if c, err := n.Count(bg); c != 2 || err != nil {
			t.Fatalf("Count right after joining = %d, %v; want 2, nil", c, err)
		}
		if p := n.Peers(); len(p) != 2 {
			t.Fatalf("peers %v after the first count", p)
		}
	})
	t.Run("an early answer is partial", func(t *testing.T) {
		n := join(nil)
		ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
		defer cancel()
		c, err := n.Count(ctx)
		if !errors.Is(err, cluster.ErrPartial) || !errors.Is(err, cluster.ErrJoining) {
			t.Fatalf("Count with 100 ms right after joining = %d, %v; want a partial answer", c, err)
		}
		t.Log(c, err)
	})
	t.Run("late answers to the hello are heard", func(t *testing.T) {
		n := join(func(b *natsbus.Bus) cluster.Bus { return deafBus{b} })
		testnode.Eventually(t, 5*time.Second, "both peers learned from their late answers", func() bool {
			p := n.Peers()
			return slices.Contains(p, running[0].ID()) && slices.Contains(p, running[1].ID())
		})
	})
}
