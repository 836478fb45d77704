package main

import (
	"encoding/json"
	"sort"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/examples/internal/chatui"
	"github.com/shunhui19/goes/protocol/websocket"
)

// chat keeps who is in which room. The connection store does the
// broadcasting; members maps connection ids to their seat.
type chat struct {
	goer    *core.Goer
	members chatui.Members
}

// message is every frame of the JSON protocol the page speaks (package chatui).
type message = chatui.Message

func newChat(addr string) *chat {
	ch := &chat{}
	p := websocket.New()
	p.Compression = true
	p.PingInterval = 30 * time.Second
	p.HTTPHandler = chatui.Handler()
	g := core.NewGoer(addr, p, "tcp")
	g.Name = "chat"
	g.MaxPackageSize = 64 << 10
	g.OnMessage = ch.onMessage
	g.OnClose = ch.onClose
	ch.goer = g
	return ch
}

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

// join seats c as nick in room (both cleaned by chatui.Read).
func (ch *chat) join(c core.Connection, nick, room string) {
	old, had, taken := ch.members.Take(c.GetID(), chatui.Member{Nick: nick, Room: room})
	if taken {
		ch.send(c, message{Type: "error", Text: "the nickname " + nick + " is taken"})
		return
	}
	if had && old.Room != room {
		ch.toRoom(old.Room, message{Type: "leave", Nick: old.Nick, Room: old.Room})
	}
	welcome := ch.presence(room)
	welcome.Type, welcome.Nick, welcome.Room = "welcome", nick, room
	ch.send(c, welcome)
	if !had || old.Room != room {
		ch.toRoom(room, message{Type: "join", Nick: nick, Room: room}, c.GetID())
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

func (ch *chat) onClose(c core.Connection) {
	if m, ok := ch.members.Remove(c.GetID()); ok {
		ch.toRoom(m.Room, message{Type: "leave", Nick: m.Nick, Room: m.Room})
		ch.announce()
	}
}

// presence describes the chat as seen from room.
func (ch *chat) presence(room string) message {
	m := message{Type: "presence", Rooms: map[string]int{}}
	ch.members.Range(func(_ int, x chatui.Member) bool {
		m.Online++
		m.Rooms[x.Room]++
		if x.Room == room {
			m.Members = append(m.Members, x.Nick)
		}
		return true
	})
	sort.Strings(m.Members)
	return m
}

// announce tells every member the online count, the rooms and who is in
// their room.
func (ch *chat) announce() {
	byRoom := map[string][]byte{}
	ch.each(func(c core.Connection, m chatui.Member) {
		b, ok := byRoom[m.Room]
		if !ok {
			b, _ = json.Marshal(ch.presence(m.Room))
			byRoom[m.Room] = b
		}
		deliver(c, b)
	})
}

// toRoom sends m to every member of room except the ids in skip.
func (ch *chat) toRoom(room string, m message, skip ...int) {
	b, _ := json.Marshal(m)
	ch.each(func(c core.Connection, x chatui.Member) {
		if x.Room != room {
			return
		}
		for _, id := range skip {
			if id == c.GetID() {
				return
			}
		}
		deliver(c, b)
	})
}

// each runs f for every open connection that joined, via the connection
// store.
func (ch *chat) each(f func(c core.Connection, m chatui.Member)) {
	ch.goer.Connections.Range(func(id int, c *core.TCPConnection) bool {
		if m, ok := ch.members.Get(id); ok {
			f(c, m)
		}
		return true
	})
}

func (ch *chat) send(c core.Connection, m message) {
	b, _ := json.Marshal(m)
	deliver(c, b)
}

// deliver sends b to c. A member whose send queue is full reads too slowly
// to keep up with the room: rather than miss messages unnoticed, it is
// closed, and the log says so.
func deliver(c core.Connection, b []byte) {
	if err := c.SendBytes(b, false); err != nil {
		c.Goer().Log().Warn("chat: message not sent; closing the member", "remote", c.GetRemoteAddress(), "err", err)
		c.Close("")
	}
}
