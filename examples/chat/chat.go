package main

import (
	"encoding/json"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/examples/internal/chatui"
	"github.com/shunhui19/goes/protocol/websocket"
)

// chat keeps who is in which room. The connection store does the
// broadcasting; members maps connection ids to their seat.
type chat struct {
	goer *core.Goer

	mu      sync.Mutex
	members map[int]*member
}

type member struct {
	nick, room string
}

// message is every frame of the JSON protocol the page speaks (package chatui).
type message = chatui.Message

func newChat(addr string) *chat {
	ch := &chat{members: map[int]*member{}}
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
	var m message
	if err := json.Unmarshal(data, &m); err != nil {
		ch.send(c, message{Type: "error", Text: "bad message"})
		return
	}
	switch m.Type {
	case "join":
		ch.join(c, m.Nick, m.Room)
	case "say":
		ch.say(c, m.Text)
	default:
		ch.send(c, message{Type: "error", Text: "unknown message type"})
	}
}

func (ch *chat) join(c core.Connection, nick, room string) {
	nick = chatui.CleanNick(nick)
	room = chatui.CleanRoom(room)
	if nick == "" {
		ch.send(c, message{Type: "error", Text: "pick a nickname (1 to 24 letters)"})
		return
	}
	ch.mu.Lock()
	for id, m := range ch.members {
		if id != c.GetID() && strings.EqualFold(m.nick, nick) {
			ch.mu.Unlock()
			ch.send(c, message{Type: "error", Text: "the nickname " + nick + " is taken"})
			return
		}
	}
	old := ch.members[c.GetID()]
	ch.members[c.GetID()] = &member{nick: nick, room: room}
	ch.mu.Unlock()

	if old != nil && old.room != room {
		ch.toRoom(old.room, message{Type: "leave", Nick: old.nick, Room: old.room})
	}
	welcome := ch.presence(room)
	welcome.Type, welcome.Nick, welcome.Room = "welcome", nick, room
	ch.send(c, welcome)
	if old == nil || old.room != room {
		ch.toRoom(room, message{Type: "join", Nick: nick, Room: room}, c.GetID())
	}
	ch.announce()
}

func (ch *chat) say(c core.Connection, text string) {
	ch.mu.Lock()
	m := ch.members[c.GetID()]
	ch.mu.Unlock()
	if m == nil {
		ch.send(c, message{Type: "error", Text: "join a room first"})
		return
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return
	}
	if utf8.RuneCountInString(text) > chatui.MaxText {
		ch.send(c, message{Type: "error", Text: "message too long"})
		return
	}
	ch.toRoom(m.room, message{Type: "say", Nick: m.nick, Room: m.room, Text: text, Time: time.Now().Format("15:04")})
}

func (ch *chat) onClose(c core.Connection) {
	ch.mu.Lock()
	m := ch.members[c.GetID()]
	delete(ch.members, c.GetID())
	ch.mu.Unlock()
	if m != nil {
		ch.toRoom(m.room, message{Type: "leave", Nick: m.nick, Room: m.room})
		ch.announce()
	}
}

// presence describes the chat as seen from room.
func (ch *chat) presence(room string) message {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	m := message{Type: "presence", Online: len(ch.members), Rooms: map[string]int{}}
	for _, x := range ch.members {
		m.Rooms[x.room]++
		if x.room == room {
			m.Members = append(m.Members, x.nick)
		}
	}
	sort.Strings(m.Members)
	return m
}

// announce tells every member the online count, the rooms and who is in
// their room.
func (ch *chat) announce() {
	byRoom := map[string][]byte{}
	ch.each(func(c core.Connection, m *member) {
		b, ok := byRoom[m.room]
		if !ok {
			b, _ = json.Marshal(ch.presence(m.room))
			byRoom[m.room] = b
		}
		deliver(c, b)
	})
}

// toRoom sends m to every member of room except the ids in skip.
func (ch *chat) toRoom(room string, m message, skip ...int) {
	b, _ := json.Marshal(m)
	ch.each(func(c core.Connection, x *member) {
		if x.room != room {
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
func (ch *chat) each(f func(c core.Connection, m *member)) {
	ch.goer.Connections.Range(func(id int, c *core.TCPConnection) bool {
		ch.mu.Lock()
		m := ch.members[id]
		ch.mu.Unlock()
		if m != nil {
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
