package cluster_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shunhui19/goes/cluster"
	"github.com/shunhui19/goes/cluster/internal/testnode"
)

// lateBus is a bus of one node whose subscriptions to a group or uid are
// never confirmed: WaitSubscribed waits for ctx to end. It counts the
// waits per subject.
type lateBus struct {
	mu    sync.Mutex
	subs  map[string]bool
	waits map[string]int
}

func (b *lateBus) Start(func(cluster.Msg)) error { return nil }
func (b *lateBus) Subscribe(s string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs[s] = true
	return nil
}
func (b *lateBus) Unsubscribe(s string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.subs, s)
	return nil
}
func (b *lateBus) Publish(string, string, []byte) error { return nil }
func (b *lateBus) Request(context.Context, string, []byte) ([]byte, error) {
	return nil, cluster.ErrNoResponders
}
func (b *lateBus) Gather(context.Context, string, []byte, func([]byte) bool) error {
	return cluster.ErrNoResponders
}
func (b *lateBus) MaxPayload() int { return 0 }
func (b *lateBus) Close() error    { return nil }

func (b *lateBus) WaitSubscribed(ctx context.Context, s string) error {
	b.mu.Lock()
	b.waits[s]++
	sub := b.subs[s]
	b.mu.Unlock()
	if !sub {
		return errors.New("wait for a subject never subscribed")
	}
	if !strings.Contains(s, ".g.") && !strings.Contains(s, ".u.") {
		return nil // the node's own subjects
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestJoinNotConfirmed: a join whose subscription the bus does not confirm
// within QueryTimeout says so (ErrTimeout) but holds on this node; every
// join waits, not only the one that subscribed.
func TestJoinNotConfirmed(t *testing.T) {
	const timeout = 100 * time.Millisecond
	bus := &lateBus{subs: map[string]bool{}, waits: map[string]int{}}
	n, err := cluster.New(cluster.Config{Bus: bus, QueryTimeout: timeout})
	must(t, err)
	t.Cleanup(func() { n.Close() })
	s := testnode.Start(t, n)
	a, b := s.Dial(t), s.Dial(t)

	for _, c := range []*testnode.Client{a, b} {
		start := time.Now()
		err := n.JoinGroup(c.Server, "room")
		if !errors.Is(err, cluster.ErrTimeout) {
			t.Fatalf("JoinGroup with the subscription unconfirmed: %v; want ErrTimeout", err)
		}
		if d := time.Since(start); d < timeout {
			t.Fatalf("JoinGroup gave up after %v; want %v", d, timeout)
		}
	}
	if err := n.BindUid(a.Server, "42"); !errors.Is(err, cluster.ErrTimeout) {
		t.Fatalf("BindUid with the subscription unconfirmed: %v; want ErrTimeout", err)
	}
	bus.mu.Lock()
	waits := 0
	for s, w := range bus.waits {
		if strings.Contains(s, ".g.") {
			waits += w
		}
	}
	bus.mu.Unlock()
	if waits != 2 {
		t.Errorf("%d waits for the group's subscription; want 2 (one per join)", waits)
	}
	if c, err := n.GroupCount(context.Background(), "room"); c != 2 || err != nil {
		t.Errorf("GroupCount = %d, %v; want 2 (the joins hold here)", c, err)
	}
	must(t, n.SendToGroup(context.Background(), "room", []byte("hi")))
	testnode.Eventually(t, 5*time.Second, "local members", func() bool { return a.Got("hi") == 1 && b.Got("hi") == 1 })
}
