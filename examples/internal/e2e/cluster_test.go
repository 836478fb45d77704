package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	cws "github.com/coder/websocket"
)

type chatMsg struct {
	Type   string `json:"type"`
	Nick   string `json:"nick,omitempty"`
	Room   string `json:"room,omitempty"`
	Text   string `json:"text,omitempty"`
	Online int    `json:"online,omitempty"`
	// Partial: a process did not answer the count in time (Online is
	// then a lower bound).
	Partial bool `json:"partial,omitempty"`
}

func chatDial(t *testing.T, ctx context.Context, addr string) *cws.Conn {
	t.Helper()
	c, _, err := cws.Dial(ctx, "ws://"+addr+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func chatSend(t *testing.T, ctx context.Context, c *cws.Conn, m chatMsg) {
	t.Helper()
	b, _ := json.Marshal(m)
	if err := c.Write(ctx, cws.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

// chatExpect reads until a message of type typ arrives.
func chatExpect(ctx context.Context, c *cws.Conn, typ string) (chatMsg, error) {
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return chatMsg{}, err
		}
		var m chatMsg
		if json.Unmarshal(b, &m) == nil && m.Type == typ {
			return m, nil
		}
	}
}

// The README's demo: two processes of examples/cluster on one NATS that
// the first embeds; then the first is reloaded. The new process joins the
// cluster, the old one takes its NATS server away when it exits, the other
// process takes the address over, and the rooms are shared again.
func TestClusterDemoAcrossReload(t *testing.T) {
	bin := build(t, "cluster")
	t.Setenv("GOES_NATS", "nats://"+freePort(t))
	addrA, addrB := freePort(t), freePort(t)
	a := start(t, bin, addrA, "tcp")
	b := start(t, bin, addrB, "tcp")
	if !strings.Contains(a.out.String(), "this process serves NATS there") {
		t.Fatalf("the first process did not embed NATS:\n%s", a.out.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	bob := chatDial(t, ctx, addrB)
	chatSend(t, ctx, bob, chatMsg{Type: "join", Nick: "bob", Room: "lobby"})
	if _, err := chatExpect(ctx, bob, "welcome"); err != nil {
		t.Fatal(err)
	}
	alice := chatDial(t, ctx, addrA)
	// A busy process may answer the welcome's count late (partial): then
	// ask again, a few times.
	for i := 0; ; i++ {
		chatSend(t, ctx, alice, chatMsg{Type: "join", Nick: "alice", Room: "lobby"})
		w, err := chatExpect(ctx, alice, "welcome")
		if err == nil && w.Partial && i < 5 {
			continue
		}
		if err != nil || w.Online != 2 {
			t.Fatalf("alice's welcome: %+v, %v", w, err)
		}
		break
	}
	chatSend(t, ctx, alice, chatMsg{Type: "say", Text: "before"})
	for {
		m, err := chatExpect(ctx, bob, "say")
		if err != nil {
			t.Fatal(err)
		}
		if m.Text == "before" {
			break
		}
	}
	alice.Close(cws.StatusNormalClosure, "")

	out := a.command(t, "reload")
	t.Log(strings.TrimSpace(out))
	// Until NATS has moved, a new member may see only its own process.
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; ; i++ {
		carol := chatDial(t, ctx, addrA)
		chatSend(t, ctx, carol, chatMsg{Type: "join", Nick: fmt.Sprintf("carol%d", i), Room: "lobby"})
		w, err := chatExpect(ctx, carol, "welcome")
		if err == nil && w.Online == 2 {
			chatSend(t, ctx, carol, chatMsg{Type: "say", Text: "after"})
			for {
				m, err := chatExpect(ctx, bob, "say")
				if err != nil {
					t.Fatal(err)
				}
				if m.Text == "after" {
					break
				}
			}
			break
		}
		carol.Close(cws.StatusNormalClosure, "")
		if time.Now().After(deadline) {
			t.Fatalf("after the reload the processes did not join up: %+v, %v\nA:\n%s\nB:\n%s", w, err, a.out.String(), b.out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	a.command(t, "stop")
	b.command(t, "stop")
	a.wait(t)
	b.wait(t)
}
