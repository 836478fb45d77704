package chatui

import (
	"strings"
	"sync"
	"testing"
)

func TestRead(t *testing.T) {
	long := strings.Repeat("é", MaxText+1)
	for _, tc := range []struct {
		in      string
		want    Message
		problem string
	}{
		{`{"type":"join","nick":"  alice\u0000 ","room":"Lobby!"}`, Message{Type: "join", Nick: "alice", Room: "lobby"}, ""},
		{`{"type":"join","nick":"bob"}`, Message{Type: "join", Nick: "bob", Room: DefaultRoom}, ""},
		{`{"type":"join","nick":" \u200b "}`, Message{Type: "join", Room: DefaultRoom}, "pick a nickname (1 to 24 letters)"},
		{`{"type":"say","text":"  hi  "}`, Message{Type: "say", Text: "hi"}, ""},
		{`{"type":"say","text":"   "}`, Message{Type: "say"}, ""},
		{`{"type":"say","text":"` + long + `"}`, Message{Type: "say", Text: long}, "message too long"},
		{`{"type":"shout"}`, Message{Type: "shout"}, "unknown message type"},
		{`{"type":`, Message{}, "bad message"},
		{`[]`, Message{}, "bad message"},
	} {
		got, problem := Read([]byte(tc.in))
		if problem != tc.problem || got.Type != tc.want.Type || got.Nick != tc.want.Nick || got.Room != tc.want.Room || got.Text != tc.want.Text {
			t.Errorf("Read(%.40q) = %+.40v, %q; want %+.40v, %q", tc.in, got, problem, tc.want, tc.problem)
		}
	}
}

func TestMembers(t *testing.T) {
	var ms Members
	if _, ok := ms.Get(1); ok {
		t.Fatal("zero Members has a seat")
	}
	if _, had, taken := ms.Take(1, Member{"Alice", "lobby"}); had || taken {
		t.Fatal("first Take", had, taken)
	}
	if _, _, taken := ms.Take(2, Member{"ALICE", "lobby"}); !taken {
		t.Fatal("a nickname differing only in case was not taken")
	}
	if _, ok := ms.Get(2); ok {
		t.Fatal("a refused Take seated the connection")
	}
	if old, had, taken := ms.Take(1, Member{"alice", "games"}); !had || taken || old != (Member{"Alice", "lobby"}) {
		t.Fatal("moving rooms under the own nickname", old, had, taken)
	}
	if old, had := ms.Put(2, Member{"bob", "games"}); had || old != (Member{}) {
		t.Fatal("Put", old, had)
	}
	n := 0
	ms.Range(func(int, Member) bool { n++; return false })
	if n != 1 {
		t.Fatalf("Range went on after false: %d calls", n)
	}
	if m, ok := ms.Remove(1); !ok || m.Nick != "alice" {
		t.Fatal("Remove", m, ok)
	}
	if _, ok := ms.Remove(1); ok {
		t.Fatal("removed twice")
	}
}

// Of many connections taking one nickname at once, exactly one gets it.
func TestMembersTakeIsAtomic(t *testing.T) {
	var ms Members
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for id := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, taken := ms.Take(id, Member{"carol", "lobby"}); !taken {
				mu.Lock()
				won++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d connections got the same nickname", won)
	}
}
