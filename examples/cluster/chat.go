package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/shunhui19/goes/cluster"
	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/daemon"
	"github.com/shunhui19/goes/examples/internal/chatui"
	"github.com/shunhui19/goes/protocol/websocket"
)

// chat is examples/chat over a cluster.Node: rooms are groups, a nickname
// is a uid (so it is unique across processes), and each member's session
// holds its nickname for the presence lists.
type chat struct {
	cfg  config
	goer *core.Goer
	link *link
	log  *slog.Logger

	members chatui.Members // this process's members, for their OnClose
}

type message = chatui.Message

func newChat(cfg config) *chat {
	ch := &chat{cfg: cfg}
	p := websocket.New()
	p.Compression = true
	p.PingInterval = 30 * time.Second
	p.HTTPHandler = chatui.Handler()
	g := core.NewGoer(cfg.addr, p, "tcp")
	g.Name = "cluster"
	// Several processes of this program run side by side from one
	// directory: each keeps its own pid file, named after its address, so
	// that "GOES_ADDR=... stop" stops the right one.
	g.PidFile = strings.TrimSuffix(daemon.DefaultPidFile(), ".pid") + "-" + strings.NewReplacer(":", "_", "[", "", "]", "").Replace(cfg.addr) + ".pid"
	g.MaxPackageSize = 64 << 10
	g.OnStart = ch.onStart
	g.OnStop = ch.onStop
	g.OnMessage = ch.onMessage
	g.OnClose = ch.onClose
	ch.goer = g
	return ch
}

// onStart joins the cluster in the serving process only (not in the one
// that runs "stop" or "status", nor in the parent of "start -d").
func (ch *chat) onStart(g *core.Goer) {
	ch.log = g.Logger
	if ch.log == nil {
		ch.log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	l, err := join(ch.cfg, ch.log)
	if err != nil {
		ch.log.Error("cluster: no NATS; serving this process's clients alone", "nats", ch.cfg.String(), "err", err)
	} else {
		ch.log.Info("cluster: joined", "node", l.node.ID(), "nats", ch.cfg.String())
	}
	ch.link = l
	l.node.Attach(g)
}

func (ch *chat) onStop(*core.Goer) {
	if ch.link != nil {
		ch.link.close()
	}
}

func (ch *chat) node() *cluster.Node { return ch.link.node }

func (ch *chat) onMessage(c core.Connection, data []byte) {
	m, problem := chatui.Read(data)
	switch {
	case problem != "":
		ch.send(c, message{Type: "error", Text: problem})
	case m.Type == "join":
		ch.join(c, m.Nick, m.Room)
	case m.Type == "say":
		ch.say(c, m.Text)
	}
}

func nickUid(nick string) string { return "nick:" + strings.ToLower(nick) }

// join seats c as nick in room (both cleaned by chatui.Read).
func (ch *chat) join(c core.Connection, nick, room string) {
	ctx := context.Background()
	n := ch.node()
	old, had := ch.members.Get(c.GetID())
	if !had || !strings.EqualFold(old.Nick, nick) {
		if taken, _ := n.IsUidOnline(ctx, nickUid(nick)); taken {
			ch.send(c, message{Type: "error", Text: "the nickname " + nick + " is taken"})
			return
		}
	}
	if had {
		n.UnbindUid(c, nickUid(old.Nick))
		if old.Room != room {
			n.LeaveGroup(c, old.Room)
			ch.toRoom(old.Room, message{Type: "leave", Nick: old.Nick, Room: old.Room})
		}
	}
	ch.members.Put(c.GetID(), chatui.Member{Nick: nick, Room: room})
	n.BindUid(c, nickUid(nick))
	n.JoinGroup(c, room)
	n.SetSession(ctx, n.ClientID(c), map[string]string{"nick": nick})

	welcome := ch.presence(room)
	welcome.Type, welcome.Nick, welcome.Room = "welcome", nick, room
	ch.send(c, welcome)
	if !had || old.Room != room {
		ch.toRoom(room, message{Type: "join", Nick: nick, Room: room}, n.ClientID(c))
	}
	ch.announce()
}

func (ch *chat) say(c core.Connection, text string) {
	m, ok := ch.members.Get(c.GetID())
	if !ok {
		ch.send(c, message{Type: "error", Text: "join a room first"})
		return
	}
	if text != "" {
		ch.toRoom(m.Room, message{Type: "say", Nick: m.Nick, Room: m.Room, Text: text, Time: time.Now().Format("15:04")})
	}
}

// onClose runs after the node forgot c (Attach).
func (ch *chat) onClose(c core.Connection) {
	if m, ok := ch.members.Remove(c.GetID()); ok {
		ch.toRoom(m.Room, message{Type: "leave", Nick: m.Nick, Room: m.Room})
		ch.announce()
	}
}

// presence describes the whole cluster as seen from room. A process that
// does not answer in time is left out, and the message says so (Partial):
// a slow process must not hold up the room, and the next presence counts it
// again.
func (ch *chat) presence(room string) message {
	ctx := context.Background()
	n := ch.node()
	m := message{Type: "presence"}
	var errs [3]error
	var sessions map[cluster.ClientID]map[string]string
	m.Online, errs[0] = n.Count(ctx)
	m.Rooms, errs[1] = n.Groups(ctx)
	sessions, errs[2] = n.GroupSessions(ctx, room)
	m.Partial = errors.Is(errors.Join(errs[:]...), cluster.ErrPartial)
	for _, s := range sessions {
		if s["nick"] != "" {
			m.Members = append(m.Members, s["nick"])
		}
	}
	sort.Strings(m.Members)
	return m
}

// announce tells every member of every room the online count, the rooms
// and who is in their room.
func (ch *chat) announce() {
	rooms, _ := ch.node().Groups(context.Background())
	for room := range rooms {
		b, _ := json.Marshal(ch.presence(room))
		if err := ch.node().SendToGroup(context.Background(), room, b); err != nil && !errors.Is(err, cluster.ErrUnavailable) {
			ch.log.Warn("cluster: presence to room", "room", room, "err", err)
		}
	}
}

// toRoom sends m to every member of room, on every process, except skip.
func (ch *chat) toRoom(room string, m message, skip ...cluster.ClientID) {
	b, _ := json.Marshal(m)
	if err := ch.node().SendToGroup(context.Background(), room, b, skip...); err != nil && !errors.Is(err, cluster.ErrUnavailable) {
		ch.log.Warn("cluster: send to room", "room", room, "err", err)
	}
}

func (ch *chat) send(c core.Connection, m message) {
	b, _ := json.Marshal(m)
	if err := c.SendBytes(b, false); err != nil {
		// A member whose send queue is full cannot keep up: closed, and
		// logged, rather than miss messages unnoticed.
		ch.log.Warn("cluster: message not sent; closing the member", "remote", c.GetRemoteAddress(), "err", err)
		c.Close("")
	}
}
