package chatui

import (
	"encoding/json"
	"strings"
	"sync"
	"unicode/utf8"
)

// Read decodes one frame from the page and cleans it: a "join" gets a
// usable nickname (CleanNick) and a room name (CleanRoom), a "say" its text
// trimmed. A non-empty problem is the text of the "error" reply to send
// instead; a "say" whose text is empty has no problem and nothing to say.
func Read(data []byte) (m Message, problem string) {
	if err := json.Unmarshal(data, &m); err != nil {
		return Message{}, "bad message"
	}
	switch m.Type {
	case "join":
		m.Nick, m.Room = CleanNick(m.Nick), CleanRoom(m.Room)
		if m.Nick == "" {
			return m, "pick a nickname (1 to 24 letters)"
		}
	case "say":
		m.Text = strings.TrimSpace(m.Text)
		if utf8.RuneCountInString(m.Text) > MaxText {
			return m, "message too long"
		}
	default:
		return m, "unknown message type"
	}
	return m, ""
}

// Member is where a connection sits: its nickname and room.
type Member struct {
	Nick, Room string
}

// Members maps connection ids to their seats. Its zero value is empty and
// ready; it is safe for concurrent use.
type Members struct {
	mu sync.Mutex
	m  map[int]Member
}

// Get returns the seat of connection id, if it joined.
func (ms *Members) Get(id int) (Member, bool) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	m, ok := ms.m[id]
	return m, ok
}

// Put seats connection id and returns its previous seat, if any.
func (ms *Members) Put(id int, m Member) (old Member, had bool) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if ms.m == nil {
		ms.m = map[int]Member{}
	}
	old, had = ms.m[id]
	ms.m[id] = m
	return old, had
}

// Remove forgets connection id and returns the seat it had, if any.
func (ms *Members) Remove(id int) (Member, bool) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	m, ok := ms.m[id]
	delete(ms.m, id)
	return m, ok
}

// Range calls f for every seat, in no order, until f returns false. f must
// not call the other methods.
func (ms *Members) Range(f func(id int, m Member) bool) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	for id, m := range ms.m {
		if !f(id, m) {
			return
		}
	}
}

// Take seats connection id as Put does, unless another connection already
// has m's nickname (compared without case): then it changes nothing and
// taken is true.
func (ms *Members) Take(id int, m Member) (old Member, had, taken bool) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	for other, x := range ms.m {
		if other != id && strings.EqualFold(x.Nick, m.Nick) {
			return Member{}, false, true
		}
	}
	if ms.m == nil {
		ms.m = map[int]Member{}
	}
	old, had = ms.m[id]
	ms.m[id] = m
	return old, had, false
}
