package redisstore_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"net/http/cookiejar"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
	"github.com/shunhui19/goes/protocol/http/redisstore"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// redisServer is a redis-server process on a loopback port, without
// persistence.
type redisServer struct {
	t    *testing.T
	bin  string
	port int
	cmd  *exec.Cmd
}

func startRedis(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (Debian package redis-server): skipping the Redis store tests")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := &redisServer{t: t, bin: bin, port: port}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.t.TempDir())
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.addr(), time.Second)
		if err == nil {
			c.SetDeadline(time.Now().Add(time.Second))
			fmt.Fprint(c, "PING\r\n")
			b := make([]byte, 7)
			n, _ := io.ReadFull(c, b)
			c.Close()
			if string(b[:n]) == "+PONG\r\n" {
				return
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server did not answer on %s", r.addr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *redisServer) stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// serve runs an HTTP Goer whose sessions are kept in store: /visits
// counts, /set?k=&v= and /get?k= set and read, /big?n= sets n bytes,
// /logout destroys. A failed load is answered 503.
func serve(t *testing.T, cfg *http.Sessions) (string, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	p := http.New()
	p.Sessions = cfg
	g := core.NewGoer("127.0.0.1:0", p, "tcp")
	g.Logger = slog.New(slog.NewTextHandler(logs, nil))
	g.OnMessage = func(c core.Connection, _ []byte) {
		r := http.RequestOf(c)
		w := r.Response().ContentType("text/plain")
		s, err := r.Session()
		if err != nil {
			w.Status(503).SendString("no session")
			return
		}
		switch r.Path() {
		case "/visits":
			n := s.GetInt("visits") + 1
			s.Set("visits", n)
			w.SendString(strconv.Itoa(n))
		case "/set":
			s.Set(r.Query("k"), r.Query("v"))
			w.SendString("ok")
		case "/get":
			w.SendString(s.GetString(r.Query("k")))
		case "/big":
			n, _ := strconv.Atoi(r.Query("n"))
			s.Set("big", strings.Repeat("x", n))
			w.SendString("ok")
		case "/logout":
			s.Destroy()
			w.SendString("bye")
		}
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Stop)
	t.Cleanup(cfg.Wait)
	return "http://" + g.Addr().String(), logs
}

func jarClient(t *testing.T) *nethttp.Client {
	jar, _ := cookiejar.New(nil)
	tr := &nethttp.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &nethttp.Client{Transport: tr, Jar: jar, Timeout: 10 * time.Second}
}

func get(t *testing.T, cl *nethttp.Client, url string) (int, string) {
	t.Helper()
	resp, err := cl.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func expect(t *testing.T, cl *nethttp.Client, url, want string) {
	t.Helper()
	if code, got := get(t, cl, url); code != 200 || got != want {
		t.Fatalf("GET %s: %d %q, want 200 %q", url, code, got, want)
	}
}

func waitLog(t *testing.T, logs *syncBuffer, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), what) {
		if time.Now().After(deadline) {
			t.Fatalf("%q not logged: %s", what, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newClient(t *testing.T, rs *redisServer) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: rs.addr(), MaxRetries: -1, DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestRedisStore(t *testing.T) {
	rs := startRedis(t)
	rdb := newClient(t, rs)
	store := redisstore.New(rdb)
	base, logs := serve(t, &http.Sessions{Store: store, MaxSize: 4 << 10, StoreTimeout: 2 * time.Second})
	cl := jarClient(t)
	for i := 1; i <= 3; i++ {
		expect(t, cl, base+"/visits", strconv.Itoa(i))
	}
	keys, err := rdb.Keys(context.Background(), redisstore.DefaultPrefix+"*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v %v", keys, err)
	}
	if ttl := rdb.PTTL(context.Background(), keys[0]).Val(); ttl <= 0 || ttl > http.DefaultSessionIdle {
		t.Fatalf("session key expires in %v", ttl)
	}
	expect(t, cl, base+"/set?k=name&v=ann", "ok")
	expect(t, cl, base+"/get?k=name", "ann")

	t.Run("too large", func(t *testing.T) {
		expect(t, cl, base+"/big?n=10000", "ok")
		waitLog(t, logs, "session too large")
		expect(t, cl, base+"/get?k=big", "")
		expect(t, cl, base+"/visits", "4")
	})
	t.Run("concurrent keys", func(t *testing.T) {
		var wg sync.WaitGroup
		for _, k := range []string{"a", "b", "c", "d"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := cl.Get(base + "/set?k=" + k + "&v=" + k + k)
				if err == nil {
					resp.Body.Close()
				}
			}()
		}
		wg.Wait()
		for _, k := range []string{"a", "b", "c", "d"} {
			expect(t, cl, base+"/get?k="+k, k+k)
		}
	})
	t.Run("logout", func(t *testing.T) {
		expect(t, cl, base+"/logout", "bye")
		expect(t, cl, base+"/get?k=name", "")
		deadline := time.Now().Add(5 * time.Second)
		for rdb.DBSize(context.Background()).Val() != 0 {
			if time.Now().After(deadline) {
				t.Fatal("the destroyed session is still in Redis")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func TestRedisStoreExpiry(t *testing.T) {
	rs := startRedis(t)
	store := redisstore.New(newClient(t, rs))
	base, _ := serve(t, &http.Sessions{Store: store, IdleTimeout: 300 * time.Millisecond})
	cl := jarClient(t)
	expect(t, cl, base+"/visits", "1")
	expect(t, cl, base+"/visits", "2")
	time.Sleep(500 * time.Millisecond)
	expect(t, cl, base+"/visits", "1")
}

// TestRedisRestart: Redis stops and comes back mid-test. While it is away
// the store's errors are returned to the handler and logged, and the
// server goes on answering; afterwards sessions work again (new ones:
// Redis kept nothing).
func TestRedisRestart(t *testing.T) {
	rs := startRedis(t)
	store := redisstore.New(newClient(t, rs))
	base, logs := serve(t, &http.Sessions{Store: store, StoreTimeout: time.Second})
	cl := jarClient(t)
	expect(t, cl, base+"/visits", "1")
	expect(t, cl, base+"/visits", "2")

	rs.stop()
	for i := 0; i < 3; i++ {
		if code, body := get(t, cl, base+"/visits"); code != 503 {
			t.Fatalf("with Redis away: %d %q, want the handler's 503", code, body)
		}
	}
	waitLog(t, logs, "session not loaded")
	if !strings.Contains(logs.String(), "redis") {
		t.Fatalf("the log does not name Redis: %s", logs.String())
	}

	rs.start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(t, cl, base+"/visits")
		if code == 200 {
			if body != "1" {
				t.Fatalf("after the restart: %q, want a new session", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions did not come back with Redis: %d %q", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	expect(t, cl, base+"/visits", "2")
}

// TestRedisManyClients: 200 clients at once with sessions in Redis never
// see another's session.
func TestRedisManyClients(t *testing.T) {
	const clients = 200
	rs := startRedis(t)
	store := redisstore.New(newClient(t, rs))
	base, _ := serve(t, &http.Sessions{Store: store})
	tr := &nethttp.Transport{MaxIdleConnsPerHost: clients}
	t.Cleanup(tr.CloseIdleConnections)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jar, _ := cookiejar.New(nil)
			cl := &nethttp.Client{Transport: tr, Jar: jar, Timeout: 30 * time.Second}
			me := fmt.Sprint("c", i)
			for _, step := range []struct{ path, want string }{
				{"/set?k=me&v=" + me, "ok"}, {"/visits", "1"}, {"/visits", "2"}, {"/get?k=me", me},
			} {
				resp, err := cl.Get(base + step.path)
				if err != nil {
					errs <- err
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != step.want {
					errs <- fmt.Errorf("%s %s: %q, want %q", me, step.path, b, step.want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
