package natsbus_test

import (
	"testing"
	"time"

	"github.com/shunhui19/goes/cluster/embed"
	"github.com/shunhui19/goes/cluster/internal/testnode"
)

// TestRoutedServers: each node embeds its own NATS server and the servers
// form a NATS cluster through routes, so no server is a single point of
// failure.
func TestRoutedServers(t *testing.T) {
	routes := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	var srvs []*embed.Server
	for i := range 3 {
		s, err := embed.Start(embed.Options{ClusterAddr: routes[i], Routes: routes})
		must(t, err)
		srvs = append(srvs, s)
		defer s.Shutdown()
	}
	testnode.Eventually(t, 10*time.Second, "routes", func() bool {
		for _, s := range srvs {
			if s.NumRoutes() < 2 {
				return false
			}
		}
		return true
	})
	a, b, c := newNode(t, srvs[0].ClientURL()), newNode(t, srvs[1].ClientURL()), newNode(t, srvs[2].ClientURL())
	ca, cb, cc := testnode.Start(t, a).Dial(t), testnode.Start(t, b).Dial(t), testnode.Start(t, c).Dial(t)
	must(t, b.JoinGroup(cb.Server, "g"))
	must(t, c.JoinGroup(cc.Server, "g"))
	testnode.Eventually(t, 5*time.Second, "interest crosses the routes", func() bool {
		must(t, a.SendToGroup(bg, "g", []byte("hi")))
		return cb.Got("hi") > 0 && cc.Got("hi") > 0
	})
	if ca.Got("hi") != 0 {
		t.Error("a non-member got the group message")
	}

	// c's server dies: c's NATS client knows the other servers of the NATS
	// cluster and moves to one of them, so c's clients stay reachable.
	srvs[2].Shutdown()
	testnode.Eventually(t, 10*time.Second, "c reached again through another server", func() bool {
		return a.SendToClient(bg, cc.ID, []byte("moved")) == nil
	})
	testnode.Eventually(t, 5*time.Second, "c's group routing back", func() bool {
		must(t, a.SendToGroup(bg, "g", []byte("again")))
		return cc.Got("again") > 0
	})
	testnode.Eventually(t, 5*time.Second, "whole count", func() bool {
		n, err := b.Count(bg)
		return err == nil && n == 3
	})
}
