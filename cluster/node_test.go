package cluster_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/shunhui19/goes/cluster"
	"github.com/shunhui19/goes/cluster/internal/testnode"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func newLocal(t *testing.T) (*cluster.Node, *testnode.Server) {
	t.Helper()
	n, err := cluster.New(cluster.Config{MaxMessage: 1 << 10, MaxSession: 64})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n, testnode.Start(t, n)
}

func TestLocalSends(t *testing.T) {
	n, s := newLocal(t)
	ctx := context.Background()
	a, b, c := s.Dial(t), s.Dial(t), s.Dial(t)
	must(t, n.BindUid(a.Server, "42"))
	must(t, n.BindUid(b.Server, "42")) // two connections, one uid
	must(t, n.JoinGroup(a.Server, "room"))
	must(t, n.JoinGroup(c.Server, "room"))

	must(t, n.SendToUid(ctx, "42", []byte("to 42")))
	must(t, n.SendToGroup(ctx, "room", []byte("to room"), c.ID))
	must(t, n.SendToAll(ctx, []byte("to all"), b.ID))
	must(t, n.SendToClient(ctx, c.ID, []byte("to c")))

	want := map[*testnode.Client][]string{
		a: {"to 42", "to room", "to all"},
		b: {"to 42"},
		c: {"to all", "to c"},
	}
	testnode.Eventually(t, 5*time.Second, "deliveries", func() bool {
		for cl, lines := range want {
			if cl.Total() != int64(len(lines)) {
				return false
			}
		}
		return true
	})
	for cl, lines := range want {
		for _, l := range lines {
			if cl.Got(l) != 1 {
				t.Errorf("%s got %q %d times", cl.ID, l, cl.Got(l))
			}
		}
	}
}

func TestLocalQueries(t *testing.T) {
	n, s := newLocal(t)
	ctx := context.Background()
	a, b, c := s.Dial(t), s.Dial(t), s.Dial(t)
	must(t, n.BindUid(a.Server, "u1"))
	must(t, n.BindUid(b.Server, "u1"))
	must(t, n.JoinGroup(a.Server, "g"))
	must(t, n.JoinGroup(b.Server, "g"))
	must(t, n.JoinGroup(c.Server, "h"))

	if got, err := n.Count(ctx); err != nil || got != 3 {
		t.Errorf("Count = %d, %v; want 3", got, err)
	}
	if got, err := n.GroupCount(ctx, "g"); err != nil || got != 2 {
		t.Errorf("GroupCount(g) = %d, %v; want 2", got, err)
	}
	ids, err := n.GroupMembers(ctx, "g")
	slices.Sort(ids)
	want := []cluster.ClientID{a.ID, b.ID}
	slices.Sort(want)
	if err != nil || !slices.Equal(ids, want) {
		t.Errorf("GroupMembers(g) = %v, %v; want %v", ids, err, want)
	}
	ids, err = n.ClientIDsByUid(ctx, "u1")
	slices.Sort(ids)
	if err != nil || !slices.Equal(ids, want) {
		t.Errorf("ClientIDsByUid(u1) = %v, %v; want %v", ids, err, want)
	}
	if gs, err := n.Groups(ctx); err != nil || gs["g"] != 2 || gs["h"] != 1 || len(gs) != 2 {
		t.Errorf("Groups = %v, %v", gs, err)
	}
	if on, err := n.IsUidOnline(ctx, "u1"); err != nil || !on {
		t.Errorf("IsUidOnline(u1) = %v, %v", on, err)
	}
	if on, err := n.IsUidOnline(ctx, "nobody"); err != nil || on {
		t.Errorf("IsUidOnline(nobody) = %v, %v", on, err)
	}

	// Sessions, readable by group.
	must(t, n.SetSession(ctx, a.ID, map[string]string{"nick": "ann"}))
	must(t, n.UpdateSession(ctx, a.ID, map[string]string{"color": "red"}))
	if s, err := n.Session(ctx, a.ID); err != nil || s["nick"] != "ann" || s["color"] != "red" {
		t.Errorf("Session = %v, %v", s, err)
	}
	must(t, n.UpdateSession(ctx, a.ID, map[string]string{"color": ""}))
	if s, _ := n.Session(ctx, a.ID); len(s) != 1 {
		t.Errorf("after deleting color, session = %v", s)
	}
	gs, err := n.GroupSessions(ctx, "g")
	if err != nil || len(gs) != 2 || gs[a.ID]["nick"] != "ann" || gs[b.ID] == nil {
		t.Errorf("GroupSessions = %v, %v", gs, err)
	}

	// Leaving and closing take connections out of every answer.
	must(t, n.LeaveGroup(b.Server, "g"))
	must(t, n.UnbindUid(a.Server, "u1"))
	b.Close()
	testnode.Eventually(t, 5*time.Second, "b gone", func() bool {
		c, _ := n.Count(ctx)
		return c == 2
	})
	if on, _ := n.IsOnline(ctx, b.ID); on {
		t.Error("b still online after closing")
	}
	if on, _ := n.IsUidOnline(ctx, "u1"); on {
		t.Error("u1 still online after unbind and close")
	}
	if got, _ := n.GroupCount(ctx, "g"); got != 1 {
		t.Errorf("GroupCount(g) = %d after b left; want 1", got)
	}
	if on, err := n.IsOnline(ctx, a.ID); err != nil || !on {
		t.Errorf("IsOnline(a) = %v, %v", on, err)
	}

	// CloseClient closes after the farewell.
	must(t, n.CloseClient(ctx, c.ID, "bye"))
	testnode.Eventually(t, 5*time.Second, "c closed", c.Closed)
	if c.Got("bye") != 1 {
		t.Error("c did not get its farewell")
	}
}

func TestLocalBadInput(t *testing.T) {
	n, s := newLocal(t)
	ctx := context.Background()
	a := s.Dial(t)
	big := []byte(strings.Repeat("x", 1<<10+1))
	long := strings.Repeat("u", cluster.MaxNameLen+1)
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"unknown uid", n.SendToUid(ctx, "nobody", []byte("x")), cluster.ErrNotFound},
		{"empty uid", n.BindUid(a.Server, ""), cluster.ErrBadName},
		{"long uid", n.BindUid(a.Server, long), cluster.ErrBadName},
		{"empty group send", n.SendToGroup(ctx, "", []byte("x")), cluster.ErrBadName},
		{"empty group join", n.JoinGroup(a.Server, ""), cluster.ErrBadName},
		{"oversized to all", n.SendToAll(ctx, big), cluster.ErrTooLarge},
		{"oversized to client", n.SendToClient(ctx, a.ID, big), cluster.ErrTooLarge},
		{"malformed id", n.SendToClient(ctx, "nope", []byte("x")), cluster.ErrBadClientID},
		{"negative conn", n.SendToClient(ctx, cluster.ClientID(n.ID()+"--1"), []byte("x")), cluster.ErrBadClientID},
		{"unknown conn", n.SendToClient(ctx, cluster.ClientID(n.ID()+"-999999"), []byte("x")), cluster.ErrNotFound},
		{"unknown node", n.SendToClient(ctx, "elsewhere-1", []byte("x")), cluster.ErrNotFound},
		{"close unknown", n.CloseClient(ctx, "elsewhere-1", ""), cluster.ErrNotFound},
		{"big session", n.SetSession(ctx, a.ID, map[string]string{"k": strings.Repeat("v", 64)}), cluster.ErrTooLarge},
		{"session unknown", n.SetSession(ctx, "elsewhere-1", nil), cluster.ErrNotFound},
	}
	for _, c := range cases {
		if !errors.Is(c.err, c.want) {
			t.Errorf("%s: err = %v; want %v", c.name, c.err, c.want)
		}
	}
	if _, err := n.GroupCount(ctx, ""); !errors.Is(err, cluster.ErrBadName) {
		t.Errorf("GroupCount(\"\") = %v", err)
	}
	if _, err := n.IsOnline(ctx, ""); !errors.Is(err, cluster.ErrBadClientID) {
		t.Errorf("IsOnline(\"\") = %v", err)
	}
	if c, err := n.GroupCount(ctx, "empty"); err != nil || c != 0 {
		t.Errorf("GroupCount(empty) = %d, %v", c, err)
	}
	if err := n.SendToGroup(ctx, "empty", []byte("x")); err != nil {
		t.Errorf("a send to a group without members: %v", err)
	}
	n.Close()
	if err := n.SendToAll(ctx, []byte("x")); !errors.Is(err, cluster.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if _, err := cluster.New(cluster.Config{ID: "a.b"}); err == nil {
		t.Error("a node id with a dot was accepted")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
