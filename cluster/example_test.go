package cluster_test

import (
	"context"
	"strings"

	"github.com/shunhui19/goes/cluster"
	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/text"
)

// A text chat: "login NAME" binds the connection to a uid, "to NAME TEXT"
// reaches that user on whichever node holds them, anything else goes to
// the room. With Config{Bus: bus} (cluster/natsbus) the same code spans
// several processes.
func ExampleNode() {
	node, err := cluster.New(cluster.Config{})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	g := core.NewGoer("127.0.0.1:0", text.New(), "tcp")
	g.OnConnect = func(c core.Connection) { node.JoinGroup(c, "room") }
	g.OnMessage = func(c core.Connection, data []byte) {
		line := string(data)
		switch {
		case strings.HasPrefix(line, "login "):
			node.BindUid(c, strings.TrimPrefix(line, "login "))
		case strings.HasPrefix(line, "to "):
			uid, msg, _ := strings.Cut(strings.TrimPrefix(line, "to "), " ")
			if err := node.SendToUid(ctx, uid, []byte(msg)); err != nil {
				c.Send(err.Error(), false)
			}
		default:
			node.SendToGroup(ctx, "room", data, node.ClientID(c))
		}
	}
	node.Attach(g) // connections leave the node when they close
	// g.RunAll()
}
