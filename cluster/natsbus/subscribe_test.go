package natsbus_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shunhui19/goes/cluster/internal/testnode"
)

// joined is what the joining node tells the sending one: a client of its
// is in group (or bound to uid) now.
type joined struct {
	group, uid, line string
	cl               *testnode.Client
}

// TestJoinThenSend: once JoinGroup or BindUid returns on one node, a send
// from another node reaches the new member. The joining node tells the
// sender over a channel, which is faster than any NATS round trip: a
// subscription that is still on its way to the NATS server when the join
// returns loses the message.
func TestJoinThenSend(t *testing.T) {
	const (
		rounds  = 150 // a new group and a new uid each
		members = 4   // clients joining each group at the same time
		budget  = 20 * time.Second
	)
	srv := startNATS(t, "")
	a, b := newNode(t, srv.ClientURL()), newNode(t, srv.ClientURL())
	sa := testnode.Start(t, a)
	var cls []*testnode.Client
	for range members {
		cls = append(cls, sa.Dial(t))
	}

	// The sender: node b sends at once what it is told.
	todo := make(chan joined, members)
	errs := make(chan error, members)
	go func() {
		for j := range todo {
			var err error
			if j.uid != "" {
				err = b.SendToUid(bg, j.uid, []byte(j.line))
			} else {
				err = b.SendToGroup(bg, j.group, []byte(j.line))
			}
			if err != nil {
				err = fmt.Errorf("%s: %w", j.line, err)
			}
			errs <- err
		}
	}()
	defer close(todo)

	wait := func(r int, j []joined) {
		t.Helper()
		for range j {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v", r, err)
			}
		}
		for _, j := range j {
			testnode.Eventually(t, 5*time.Second, fmt.Sprintf("round %d: %q reaches its client", r, j.line), func() bool {
				return j.cl.Got(j.line) == 1
			})
		}
	}
	end := time.Now().Add(budget)
	r := 0
	for ; r < rounds && time.Now().Before(end); r++ {
		// Every member joins a new group at the same time: the first makes
		// the node subscribe, the others find the subscription made (and
		// perhaps not in effect yet).
		group := fmt.Sprintf("g%d", r)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var js []joined
		for k, cl := range cls {
			wg.Go(func() {
				if err := a.JoinGroup(cl.Server, group); err != nil {
					t.Error(err)
					return
				}
				j := joined{group: group, line: fmt.Sprintf("%s member %d", group, k), cl: cl}
				todo <- j
				mu.Lock()
				js = append(js, j)
				mu.Unlock()
			})
		}
		wg.Wait()
		if t.Failed() {
			t.FailNow()
		}
		wait(r, js)

		// A new uid: the send is a request; nobody subscribed yet is "not
		// found".
		cl := cls[r%members]
		uid := fmt.Sprintf("u%d", r)
		if err := a.BindUid(cl.Server, uid); err != nil {
			t.Fatal(err)
		}
		j := joined{uid: uid, line: uid + " bound", cl: cl}
		todo <- j
		wait(r, []joined{j})
	}
	t.Logf("%d rounds of %d joins and a bind", r, members)
	if r < 20 {
		t.Fatalf("only %d rounds in %v", r, budget)
	}
}

// BenchmarkJoinGroup: what a join costs on a node linked to NATS, for a
// new group (the node subscribes) and for a group it already has.
func BenchmarkJoinGroup(b *testing.B) {
	srv := startNATS(b, "")
	n := newNode(b, srv.ClientURL())
	s := testnode.Start(b, n)
	cl := s.Dial(b)
	b.Run("new group", func(b *testing.B) {
		for i := range b.N {
			if err := n.JoinGroup(cl.Server, fmt.Sprintf("new%d", i)); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		for i := range b.N {
			_ = n.LeaveGroup(cl.Server, fmt.Sprintf("new%d", i))
		}
	})
	b.Run("new group 32 at once", func(b *testing.B) {
		b.SetParallelism(16)
		var mu sync.Mutex
		next := 0
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				mu.Lock()
				next++
				g := fmt.Sprintf("par%d", next)
				mu.Unlock()
				if err := n.JoinGroup(cl.Server, g); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.StopTimer()
		for i := 1; i <= next; i++ {
			_ = n.LeaveGroup(cl.Server, fmt.Sprintf("par%d", i))
		}
	})
	b.Run("same group", func(b *testing.B) {
		other := s.Dial(b)
		if err := n.JoinGroup(other.Server, "same"); err != nil {
			b.Fatal(err)
		}
		for range b.N {
			if err := n.JoinGroup(cl.Server, "same"); err != nil {
				b.Fatal(err)
			}
			if err := n.LeaveGroup(cl.Server, "same"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
