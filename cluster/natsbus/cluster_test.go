package natsbus_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shunhui19/goes/cluster"
	"github.com/shunhui19/goes/cluster/internal/testnode"
	"github.com/shunhui19/goes/cluster/natsbus"
)

// TestThreeNodes spreads 3,000 clients over three nodes and checks every
// kind of send and query across them.
func TestThreeNodes(t *testing.T) {
	const perNode = 1000
	if testing.Short() {
		t.Skip("3,000 connections")
	}
	srv := startNATS(t, "")
	var nodes []*cluster.Node
	var servers []*testnode.Server
	var clients [][]*testnode.Client
	for range 3 {
		n := newNode(t, srv.ClientURL())
		nodes = append(nodes, n)
		servers = append(servers, testnode.Start(t, n))
	}
	for i, s := range servers {
		var cs []*testnode.Client
		for j := range perNode {
			cl := s.Dial(t)
			// Group "front" has members on nodes 0 and 1 only.
			if i < 2 && j%2 == 0 {
				must(t, nodes[i].JoinGroup(cl.Server, "front"))
			}
			must(t, nodes[i].BindUid(cl.Server, fmt.Sprintf("u%d-%d", i, j)))
			cs = append(cs, cl)
		}
		clients = append(clients, cs)
	}
	all := slices.Concat(clients...)
	for i, n := range nodes {
		testnode.Eventually(t, 5*time.Second, "peers", func() bool { return len(n.Peers()) == 2 })
		if got, err := n.Count(bg); err != nil || got != 3*perNode {
			t.Fatalf("node %d: Count = %d, %v", i, got, err)
		}
	}

	t.Run("SendToAll", func(t *testing.T) {
		before := nodes[2].Stats().ToAll.Load()
		must(t, nodes[0].SendToAll(bg, []byte("all 1")))
		testnode.Eventually(t, 10*time.Second, "every client got it", func() bool {
			for _, cl := range all {
				if cl.Got("all 1") < 1 {
					return false
				}
			}
			return true
		})
		time.Sleep(100 * time.Millisecond) // room for a duplicate to show
		for _, cl := range all {
			if n := cl.Got("all 1"); n != 1 {
				t.Fatalf("%s got the message %d times", cl.ID, n)
			}
		}
		if d := nodes[2].Stats().ToAll.Load() - before; d != 1 {
			t.Errorf("node 2 received %d send-to-all messages; want 1", d)
		}
	})

	t.Run("SendToGroup", func(t *testing.T) {
		var before [3]int64
		for i, n := range nodes {
			before[i] = n.Stats().ToGroup.Load()
		}
		// Every message of node 2 meanwhile that is not a heartbeat or a query.
		st := nodes[2].Stats()
		traffic := func() int64 {
			return st.ToClient.Load() + st.ToUid.Load() + st.ToGroup.Load() + st.ToAll.Load() + st.Bad.Load()
		}
		traffic0 := traffic()
		// From node 2, which has no members: it sends but gets nothing.
		must(t, nodes[2].SendToGroup(bg, "front", []byte("front 1"), clients[0][0].ID))
		members, err := nodes[2].GroupMembers(bg, "front")
		if err != nil || len(members) != perNode {
			t.Fatalf("GroupMembers = %d, %v; want %d", len(members), err, perNode)
		}
		if c, err := nodes[1].GroupCount(bg, "front"); err != nil || c != perNode {
			t.Fatalf("GroupCount = %d, %v", c, err)
		}
		testnode.Eventually(t, 10*time.Second, "members got it", func() bool {
			for i := range 2 {
				for j := 2; j < perNode; j += 2 {
					if clients[i][j].Got("front 1") != 1 {
						return false
					}
				}
			}
			return true
		})
		time.Sleep(100 * time.Millisecond)
		for i, cs := range clients {
			for j, cl := range cs {
				want := 0
				if i < 2 && j%2 == 0 && !(i == 0 && j == 0) {
					want = 1
				}
				if got := cl.Got("front 1"); got != want {
					t.Fatalf("client %d/%d got the group message %d times; want %d", i, j, got, want)
				}
			}
		}
		// Node 2, without members, got no message at all but heartbeats and
		// the others' queries.
		if other := traffic() - traffic0; other != 0 {
			t.Errorf("node 2 received %d messages besides heartbeats and queries", other)
		}
		for i, want := range []int64{1, 1, 0} {
			if d := nodes[i].Stats().ToGroup.Load() - before[i]; d != want {
				t.Errorf("node %d received %d group messages; want %d", i, d, want)
			}
		}
	})

	t.Run("SendToUid on two nodes", func(t *testing.T) {
		a, b := clients[0][1], clients[1][1]
		must(t, nodes[0].BindUid(a.Server, "shared"))
		must(t, nodes[1].BindUid(b.Server, "shared"))
		ids, err := nodes[2].ClientIDsByUid(bg, "shared")
		slices.Sort(ids)
		want := []cluster.ClientID{a.ID, b.ID}
		slices.Sort(want)
		if err != nil || !slices.Equal(ids, want) {
			t.Fatalf("ClientIDsByUid = %v, %v; want %v", ids, err, want)
		}
		must(t, nodes[2].SendToUid(bg, "shared", []byte("shared 1")))
		must(t, nodes[0].SendToUid(bg, "shared", []byte("shared 2"))) // one here, one there
		testnode.Eventually(t, 5*time.Second, "both copies", func() bool {
			return a.Got("shared 1") == 1 && b.Got("shared 1") == 1 && a.Got("shared 2") == 1 && b.Got("shared 2") == 1
		})
		if on, err := nodes[2].IsUidOnline(bg, "shared"); err != nil || !on {
			t.Errorf("IsUidOnline(shared) = %v, %v", on, err)
		}
		if on, err := nodes[2].IsUidOnline(bg, "nobody"); err != nil || on {
			t.Errorf("IsUidOnline(nobody) = %v, %v", on, err)
		}
	})

	t.Run("one client anywhere", func(t *testing.T) {
		cl := clients[1][7]
		must(t, nodes[0].SendToClient(bg, cl.ID, []byte("direct")))
		testnode.Eventually(t, 5*time.Second, "direct", func() bool { return cl.Got("direct") == 1 })
		must(t, nodes[2].SetSession(bg, cl.ID, map[string]string{"nick": "bob"}))
		must(t, nodes[0].UpdateSession(bg, cl.ID, map[string]string{"room": "front"}))
		if s, err := nodes[2].Session(bg, cl.ID); err != nil || s["nick"] != "bob" || s["room"] != "front" {
			t.Errorf("Session = %v, %v", s, err)
		}
		if on, err := nodes[2].IsOnline(bg, cl.ID); err != nil || !on {
			t.Errorf("IsOnline = %v, %v", on, err)
		}
		must(t, nodes[0].CloseClient(bg, cl.ID, "bye"))
		testnode.Eventually(t, 5*time.Second, "closed", cl.Closed)
		testnode.Eventually(t, 5*time.Second, "offline", func() bool {
			on, err := nodes[2].IsOnline(bg, cl.ID)
			return err == nil && !on
		})
		if c, err := nodes[0].Count(bg); err != nil || c != 3*perNode-1 {
			t.Errorf("Count after a close = %d, %v", c, err)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		big := []byte(strings.Repeat("x", cluster.DefaultMaxMessage+1))
		cases := []struct {
			name      string
			err, want error
		}{
			{"unknown uid", nodes[0].SendToUid(bg, "nobody", []byte("x")), cluster.ErrNotFound},
			{"unknown conn on a live node", nodes[0].SendToClient(bg, cluster.ClientID(nodes[1].ID()+"-999999"), []byte("x")), cluster.ErrNotFound},
			{"unknown node", nodes[0].SendToClient(bg, "gone-1", []byte("x")), cluster.ErrNotFound},
			{"session of unknown node", nodes[0].SetSession(bg, "gone-1", nil), cluster.ErrNotFound},
			{"too large session remote", nodes[0].SetSession(bg, clients[1][9].ID, map[string]string{"k": strings.Repeat("v", cluster.DefaultMaxSession)}), cluster.ErrTooLarge},
			{"empty group", nodes[0].SendToGroup(bg, "", []byte("x")), cluster.ErrBadName},
			{"oversized", nodes[0].SendToAll(bg, big), cluster.ErrTooLarge},
			{"oversized to uid", nodes[0].SendToUid(bg, "shared", big), cluster.ErrTooLarge},
		}
		for _, c := range cases {
			if !errors.Is(c.err, c.want) {
				t.Errorf("%s: err = %v; want %v", c.name, c.err, c.want)
			}
		}
		for i, n := range nodes {
			if n.Stats().Bad.Load() != 0 {
				t.Errorf("node %d saw %d bad messages", i, n.Stats().Bad.Load())
			}
		}
	})

	t.Run("a node that leaves", func(t *testing.T) {
		must(t, nodes[2].Close())
		// Close says goodbye: the others stop waiting for it at once.
		c, err := nodes[0].Count(bg)
		if err != nil || c != 2*perNode-1 {
			t.Errorf("Count after node 2 left = %d, %v; want %d", c, err, 2*perNode-1)
		}
		if ps := nodes[0].Peers(); len(ps) != 1 {
			t.Errorf("node 0 still expects %v", ps)
		}
	})
}

// TestNATSRestart stops NATS under two nodes and starts it again.
func TestNATSRestart(t *testing.T) {
	addr := freeAddr(t)
	srv := startNATS(t, addr)
	a, b := newNode(t, srv.ClientURL()), newNode(t, srv.ClientURL())
	sa, sb := testnode.Start(t, a), testnode.Start(t, b)
	ca1, ca2, cb := sa.Dial(t), sa.Dial(t), sb.Dial(t)
	must(t, a.JoinGroup(ca1.Server, "g"))
	must(t, b.JoinGroup(cb.Server, "g"))
	must(t, a.BindUid(ca2.Server, "local"))
	must(t, b.BindUid(cb.Server, "remote"))
	testnode.Eventually(t, 5*time.Second, "peers", func() bool { return len(a.Peers()) == 1 })

	srv.Shutdown()
	// Until the node notices, a remote send may also time out.
	testnode.Eventually(t, 5*time.Second, "the node sees NATS down", func() bool {
		err := a.SendToClient(bg, cb.ID, []byte("probe"))
		if err != nil && !errors.Is(err, cluster.ErrUnavailable) && !errors.Is(err, cluster.ErrTimeout) {
			t.Fatalf("remote send with NATS going down: %v", err)
		}
		return errors.Is(err, cluster.ErrUnavailable)
	})
	// Local sends never fail; remote ones say the bus is down.
	for i := range 20 {
		msg := []byte(fmt.Sprintf("down %d", i))
		must(t, a.SendToClient(bg, ca1.ID, msg))
		if err := a.SendToClient(bg, cb.ID, msg); !errors.Is(err, cluster.ErrUnavailable) {
			t.Fatalf("remote send with NATS down: %v", err)
		}
		if err := a.SendToGroup(bg, "g", msg); !errors.Is(err, cluster.ErrUnavailable) {
			t.Fatalf("group send with NATS down: %v", err)
		}
		if err := a.SendToUid(bg, "local", msg); !errors.Is(err, cluster.ErrUnavailable) {
			t.Fatalf("uid send with NATS down: %v", err)
		}
		if _, err := a.Count(bg); !errors.Is(err, cluster.ErrUnavailable) && !errors.Is(err, cluster.ErrPartial) && err != nil {
			t.Fatalf("count with NATS down: %v", err)
		}
	}
	// While down, a node may still join a group: the subscription is made
	// on reconnect.
	ca3 := sa.Dial(t)
	must(t, a.JoinGroup(ca3.Server, "late"))
	testnode.Eventually(t, 5*time.Second, "local deliveries", func() bool {
		return ca1.Got("down 19") == 2 && ca2.Got("down 19") == 1 // client + group; uid
	})
	if cb.Total() != 0 {
		t.Fatalf("the other node's client got %d messages while NATS was down", cb.Total())
	}

	startNATS(t, addr)
	testnode.Eventually(t, 10*time.Second, "remote sends recover", func() bool {
		return b.SendToClient(bg, ca1.ID, []byte("back")) == nil
	})
	testnode.Eventually(t, 5*time.Second, "group routing recovers", func() bool {
		_ = b.SendToGroup(bg, "g", []byte("g back"))
		_ = b.SendToGroup(bg, "late", []byte("late back"))
		return ca1.Got("g back") > 0 && ca3.Got("late back") > 0
	})
	must(t, a.SendToUid(bg, "remote", []byte("uid back")))
	testnode.Eventually(t, 5*time.Second, "uid", func() bool { return cb.Got("uid back") == 1 })
	testnode.Eventually(t, 5*time.Second, "whole answers again", func() bool {
		c, err := a.Count(bg)
		return err == nil && c == 4
	})
}

func TestEchoRefused(t *testing.T) {
	srv := startNATS(t, "")
	nc, err := nats.Connect(srv.ClientURL())
	must(t, err)
	defer nc.Close()
	if _, err := natsbus.New(nc); !errors.Is(err, natsbus.ErrEcho) {
		t.Errorf("New with echo: %v", err)
	}
	if _, err := natsbus.Connect("nats://127.0.0.1:1"); !errors.Is(err, cluster.ErrUnavailable) {
		t.Errorf("Connect to nothing: %v", err)
	}
}

// muteBus drops the queries it should answer, as a node stuck in a long
// callback would, while its heartbeat goes on.
type muteBus struct{ *natsbus.Bus }

func (m muteBus) Start(deliver func(cluster.Msg)) error {
	return m.Bus.Start(func(msg cluster.Msg) {
		if !strings.HasSuffix(msg.Subject, ".q") {
			deliver(msg)
		}
	})
}

// TestPartialAnswer: a node that does not answer makes answers partial,
// never makes them hang.
func TestPartialAnswer(t *testing.T) {
	srv := startNATS(t, "")
	// A peer timeout far above the heartbeat: under load, a silent
	// heartbeat window must not expire the mute node before the count
	// (it then is not missing, and the answer is whole).
	abus, err := natsbus.Connect(srv.ClientURL())
	must(t, err)
	a, err := cluster.New(cluster.Config{Bus: abus, Heartbeat: heartbeat, PeerTimeout: 30 * time.Second, QueryTimeout: queryTimeout})
	must(t, err)
	t.Cleanup(func() { a.Close() })
	s := testnode.Start(t, a)
	s.Dial(t)
	bus, err := natsbus.Connect(srv.ClientURL())
	must(t, err)
	mute, err := cluster.New(cluster.Config{ID: "mute", Bus: muteBus{bus}, Heartbeat: heartbeat})
	must(t, err)
	defer mute.Close()
	testnode.Eventually(t, 5*time.Second, "peer", func() bool { return len(a.Peers()) == 1 })
	start := time.Now()
	c, err := a.Count(bg)
	var pe *cluster.PartialError
	if c != 1 || !errors.As(err, &pe) || !errors.Is(err, cluster.ErrPartial) || !errors.Is(err, cluster.ErrTimeout) || !slices.Equal(pe.Missing, []string{"mute"}) {
		t.Fatalf("Count with a silent node = %d, %v", c, err)
	}
	if d := time.Since(start); d > queryTimeout+time.Second {
		t.Errorf("the partial answer took %v", d)
	}
	t.Log(err)
}
