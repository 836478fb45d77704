package http_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
)

// slowStore is a FileStore whose saves take delay, whatever their context
// says: a store on a slow disk or across a slow network.
type slowStore struct {
	*http.FileStore
	delay time.Duration
}

func (s slowStore) Save(ctx context.Context, id string, ch http.Change) error {
	time.Sleep(s.delay)
	return s.FileStore.Save(ctx, id, ch)
}

// serveSlowSessions serves the session pages with a slowStore in dir and
// returns the Goer, its address and its log.
func serveSlowSessions(t *testing.T, dir string, delay, storeTimeout time.Duration) (*core.Goer, string, *syncBuffer) {
	t.Helper()
	cfg := &http.Sessions{Store: slowStore{&http.FileStore{Dir: dir}, delay}, StoreTimeout: storeTimeout}
	t.Cleanup(cfg.Wait) // a save the stop left behind ends before the directory is removed
	logs := &syncBuffer{}
	p := http.New()
	p.Sessions = cfg
	var g *core.Goer
	addr := serve(t, p, sessionHandler(filepath.Join(dir, "none")), func(gg *core.Goer) {
		g = gg
		g.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	return g, addr, logs
}

// A change answered just before a stop is in the store once the stop
// returns: the stop waits for the saves under way.
func TestSessionSaveSurvivesStop(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(g *core.Goer)
	}{
		{"Stop", (*core.Goer).Stop},
		{"GracefulStop", func(g *core.Goer) { g.StopWithin(2 * time.Second) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "sessions")
			g, addr, _ := serveSlowSessions(t, dir, 300*time.Millisecond, 5*time.Second)
			cl := client(t)
			resp := expectBody(t, cl, "http://"+addr+"/set?k=color&v=blue", "ok")
			ck := sessionCookie(resp)
			if ck == nil {
				t.Fatal("no session cookie")
			}
			cl.CloseIdleConnections() // nothing else holds the stop
			tc.stop(g)                // the save is still sleeping
			rec, ok, err := (&http.FileStore{Dir: dir}).Load(context.Background(), ck.Value)
			if err != nil || !ok {
				t.Fatalf("after the stop the store has no session (ok %v, err %v)", ok, err)
			}
			if v := rec.Values["color"]; v != "blue" {
				t.Fatalf("after the stop the session holds color=%v, want blue", v)
			}
		})
	}
}

// A save that outlasts StoreTimeout (a store ignoring its context) holds
// the stop for StoreTimeout, not for ever, and the stop says so.
func TestSessionStopBoundedByStoreTimeout(t *testing.T) {
	const storeTimeout, delay = 200 * time.Millisecond, 3 * time.Second
	dir := filepath.Join(t.TempDir(), "sessions")
	g, addr, logs := serveSlowSessions(t, dir, delay, storeTimeout)
	expectBody(t, client(t), "http://"+addr+"/set?k=color&v=blue", "ok")
	start := time.Now()
	g.Stop()
	if d := time.Since(start); d < storeTimeout || d > delay-time.Second {
		t.Fatalf("Stop took %v; want about StoreTimeout (%v), well before the save ends (%v)", d, storeTimeout, delay)
	}
	if !strings.Contains(logs.String(), "session saves still under way") {
		t.Fatalf("the stop did not log the save it left behind:\n%s", logs)
	}
}
