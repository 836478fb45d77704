package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	cws "github.com/coder/websocket"
	"github.com/shunhui19/goes/cluster"
	"github.com/shunhui19/goes/cluster/natsbus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startChat(t *testing.T, cfg config) *chat {
	t.Helper()
	cfg.addr = "127.0.0.1:0"
	ch := newChat(cfg)
	ch.goer.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := ch.goer.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ch.goer.Stop)
	return ch
}

// knowEachOther waits until every process's node expects answers from all
// the others. A node learns of those already running from the answers to
// its hello, which it awaits only briefly, and otherwise from their next
// heartbeat; until then its counts leave them out.
func knowEachOther(t *testing.T, chats ...*chat) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		all := true
		for _, ch := range chats {
			all = all && len(ch.node().Peers()) == len(chats)-1
		}
		if all {
			return
		}
		if time.Now().After(end) {
			t.Fatal("the processes did not learn of each other within 10 s")
		}
	}
}

type client struct {
	t   *testing.T
	ctx context.Context
	c   *cws.Conn
}

func dial(t *testing.T, ctx context.Context, ch *chat) *client {
	t.Helper()
	c, _, err := cws.Dial(ctx, "ws://"+ch.goer.Addr().String()+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return &client{t, ctx, c}
}

func (cl *client) send(m message) {
	cl.t.Helper()
	b, _ := json.Marshal(m)
	if err := cl.c.Write(cl.ctx, cws.MessageText, b); err != nil {
		cl.t.Fatal(err)
	}
}

// expect reads until a message of type typ for which ok holds arrives.
func (cl *client) expect(typ string, ok func(message) bool) message {
	cl.t.Helper()
	for {
		_, b, err := cl.c.Read(cl.ctx)
		if err != nil {
			cl.t.Fatalf("waiting for %q: %v", typ, err)
		}
		var m message
		if err := json.Unmarshal(b, &m); err != nil {
			cl.t.Fatal(err)
		}
		if m.Type == typ && (ok == nil || ok(m)) {
			return m
		}
	}
}

// join sends m (a join) and returns the welcome. A welcome marked partial
// (a process answered the presence query late, as one on a loaded machine
// may) is asked for again by joining anew, at most five times: the counts
// the test checks are those of a full answer.
func (cl *client) join(m message) message {
	cl.t.Helper()
	for try := 1; ; try++ {
		cl.send(m)
		w := cl.expect("welcome", nil)
		if !w.Partial {
			return w
		}
		if try == 5 {
			cl.t.Fatalf("%d welcomes in a row left a process out: %+v", try, w)
		}
	}
}

func TestRoomsAcrossProcesses(t *testing.T) {
	cfg := config{nats: "nats://" + freeAddr(t)}
	// The first chat finds no NATS and embeds one; the others use it.
	a, b, c := startChat(t, cfg), startChat(t, cfg), startChat(t, cfg)
	if !a.link.embeds() || b.link.embeds() || c.link.embeds() {
		t.Fatal("want exactly the first process to embed the NATS server")
	}
	knowEachOther(t, a, b, c)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	alice, bob, carol := dial(t, ctx, a), dial(t, ctx, b), dial(t, ctx, c)
	alice.send(message{Type: "join", Nick: "alice", Room: "lobby"})
	alice.expect("welcome", nil)
	w := bob.join(message{Type: "join", Nick: "bob", Room: "lobby"})
	if w.Online != 2 || !slices.Equal(w.Members, []string{"alice", "bob"}) {
		t.Errorf("bob's welcome = %+v", w)
	}
	alice.expect("join", func(m message) bool { return m.Nick == "bob" })
	carol.send(message{Type: "join", Nick: "carol", Room: "other"})
	carol.expect("welcome", nil)

	// A nickname is unique across processes.
	imp := dial(t, ctx, c)
	imp.send(message{Type: "join", Nick: "ALICE", Room: "lobby"})
	imp.expect("error", nil)

	alice.send(message{Type: "say", Text: "hi"})
	bob.expect("say", func(m message) bool { return m.Nick == "alice" && m.Text == "hi" })
	carol.send(message{Type: "say", Text: "yo"})
	carol.expect("say", func(m message) bool {
		if m.Text == "hi" {
			t.Error("carol got lobby's message")
		}
		return m.Text == "yo"
	})
	p := alice.expect("presence", func(m message) bool { return m.Online == 3 || m.Partial })
	if p.Partial {
		p = alice.join(message{Type: "join", Nick: "alice", Room: "lobby"})
	}
	if p.Online != 3 || p.Rooms["lobby"] != 2 || p.Rooms["other"] != 1 {
		t.Errorf("presence = %+v", p)
	}

	bob.c.Close(cws.StatusNormalClosure, "")
	alice.expect("leave", func(m message) bool { return m.Nick == "bob" })

	// The process holding the NATS server stops: another one takes over
	// the address and the remaining processes join up again.
	a.goer.Stop()
	deadline := time.Now().Add(15 * time.Second)
	for !b.link.embeds() && !c.link.embeds() || !sendWorks(ctx, b, c) {
		if time.Now().After(deadline) {
			t.Fatal("no process took over NATS")
		}
		time.Sleep(50 * time.Millisecond)
	}
	dave := dial(t, ctx, b)
	dave.send(message{Type: "join", Nick: "dave", Room: "other"})
	carol.expect("join", func(m message) bool { return m.Nick == "dave" })
	dave.send(message{Type: "say", Text: "back"})
	carol.expect("say", func(m message) bool { return m.Text == "back" })
}

// sendWorks reports whether b reaches c's node.
func sendWorks(ctx context.Context, b, c *chat) bool {
	n, err := b.node().Count(ctx)
	return err == nil && n >= 1 && len(b.node().Peers()) == 1
}

// TestRoutes: every process embeds a NATS server and the servers form a
// NATS cluster through routes.
func TestRoutes(t *testing.T) {
	routes := []string{freeAddr(t), freeAddr(t)}
	a := startChat(t, config{route: routes[0], routes: routes})
	b := startChat(t, config{route: routes[1], routes: routes})
	if !a.link.embeds() || !b.link.embeds() {
		t.Fatal("want every process to embed a server")
	}
	knowEachOther(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice, bob := dial(t, ctx, a), dial(t, ctx, b)
	alice.send(message{Type: "join", Nick: "alice", Room: "lobby"})
	alice.expect("welcome", nil)
	// Until the routes are up the processes do not see each other yet.
	deadline := time.Now().Add(10 * time.Second)
	for n, _ := b.node().Count(ctx); n != 1; n, _ = b.node().Count(ctx) {
		if time.Now().After(deadline) {
			t.Fatal("the routes did not form")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if w := bob.join(message{Type: "join", Nick: "bob", Room: "lobby"}); w.Online != 2 {
		t.Fatalf("bob's welcome = %+v", w)
	}
	bob.send(message{Type: "say", Text: "over the route"})
	alice.expect("say", func(m message) bool { return m.Text == "over the route" })
}

// muteBus drops the queries its node should answer, as a process stuck
// under load would, while its heartbeat goes on.
type muteBus struct{ *natsbus.Bus }

func (m muteBus) Start(deliver func(cluster.Msg)) error {
	return m.Bus.Start(func(msg cluster.Msg) {
		if !strings.HasSuffix(msg.Subject, ".q") {
			deliver(msg)
		}
	})
}

// A process that does not answer the presence query in time is left out of
// the counts, and the presence says that it is partial.
func TestPresenceWithASilentProcess(t *testing.T) {
	cfg := config{nats: "nats://" + freeAddr(t)}
	a := startChat(t, cfg)
	bus, err := natsbus.Connect(cfg.nats)
	if err != nil {
		t.Fatal(err)
	}
	mute, err := cluster.New(cluster.Config{ID: "mute", Bus: muteBus{bus}})
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	for end := time.Now().Add(10 * time.Second); len(a.node().Peers()) != 1; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the chat did not learn of the silent process within 10 s")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alice := dial(t, ctx, a)
	alice.send(message{Type: "join", Nick: "alice", Room: "lobby"})
	if w := alice.expect("welcome", nil); !w.Partial || w.Online != 1 || !slices.Equal(w.Members, []string{"alice"}) {
		t.Errorf("welcome with a silent process = %+v", w)
	}
	mute.Close()
	for end := time.Now().Add(10 * time.Second); len(a.node().Peers()) != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the chat did not forget the closed process within 10 s")
		}
	}
	if w := alice.join(message{Type: "join", Nick: "alice", Room: "lobby"}); w.Online != 1 {
		t.Errorf("welcome once alone = %+v", w)
	}
}
