// Package cluster reaches any connection on any node: several goes
// processes, each holding its own connections, act as one server
// (GatewayWorker's API for workerman).
//
// A Node is this process's member. Connections join it (Add, BindUid,
// JoinGroup); any node can then send to a client id, a uid, a group or
// everyone, ask who is online and how many, close a client, and read or
// write a client's small session. Without a Bus the node is the whole
// cluster (one process, no network); with cluster/natsbus the nodes talk
// over core NATS. Routing follows interest: a node subscribes only to the
// subjects of the uids and groups it holds, so a group's messages reach
// only the nodes with members.
//
//	node, _ := cluster.New(cluster.Config{})       // or Config{Bus: bus}
//	g := core.NewGoer("127.0.0.1:8080", text.New(), "tcp")
//	g.OnMessage = func(c core.Connection, data []byte) {
//		node.JoinGroup(c, "room")
//		node.SendToGroup(context.Background(), "room", data)
//	}
//	node.Attach(g) // connections leave the node when they close
//	g.RunAll()
package cluster
