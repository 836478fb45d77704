package http_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	nethttp "net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
)

// sessionHandler serves the pages the session tests use:
//
//	/visits          counts the session's visits (plain text)
//	/peek            the count, without changing the session
//	/set?k=K&v=V     sets K (after a pause when wait=1)
//	/get?k=K         the value of K
//	/login?user=U    sets user and regenerates the id
//	/logout          destroys the session
//	/big?n=N         sets a value of N bytes
//	/file            answers with a file after counting a visit
func sessionHandler(file string) func(c core.Connection, _ []byte) {
	return func(c core.Connection, _ []byte) {
		r := http.RequestOf(c)
		w := r.Response().ContentType("text/plain")
		s, err := r.Session()
		if err != nil {
			w.Status(503).SendString("no session: " + err.Error())
			return
		}
		switch r.Path() {
		case "/visits":
			n := s.GetInt("visits") + 1
			s.Set("visits", n)
			w.SendString(strconv.Itoa(n))
		case "/peek":
			w.SendString(strconv.Itoa(s.GetInt("visits")))
		case "/set":
			if r.Query("wait") == "1" {
				time.Sleep(100 * time.Millisecond)
			}
			s.Set(r.Query("k"), r.Query("v"))
			w.SendString("ok")
		case "/get":
			w.SendString(s.GetString(r.Query("k")))
		case "/login":
			s.Set("user", r.Query("user"))
			if err := s.RegenerateID(true); err != nil {
				w.Status(500).SendString(err.Error())
				return
			}
			w.SendString("hello " + r.Query("user"))
		case "/logout":
			s.Destroy()
			w.SendString("bye")
		case "/big":
			n, _ := strconv.Atoi(r.Query("n"))
			s.Set("big", strings.Repeat("x", n))
			w.SendString("ok")
		case "/file":
			s.Set("visits", s.GetInt("visits")+1)
			w.SendFile(file)
		default:
			w.Status(404).SendString("not found")
		}
	}
}

type sessionServer struct {
	addr  string
	store *http.MemoryStore
	logs  *syncBuffer
}

// serveSessions runs the session pages with cfg (its Store a fresh
// MemoryStore when nil).
func serveSessions(t testing.TB, cfg *http.Sessions, setup ...func(g *core.Goer)) *sessionServer {
	t.Helper()
	ss := &sessionServer{logs: &syncBuffer{}}
	if cfg == nil {
		cfg = &http.Sessions{}
	}
	if cfg.Store == nil {
		ss.store = &http.MemoryStore{}
		cfg.Store = ss.store
	}
	file := filepath.Join(t.TempDir(), "f.txt")
	if err := os.WriteFile(file, []byte("file body"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := http.New()
	p.Sessions = cfg
	p.HeaderTimeout = time.Minute // 1,000 clients on a busy machine may be slow to write
	setup = append([]func(*core.Goer){func(g *core.Goer) {
		g.Logger = slog.New(slog.NewTextHandler(ss.logs, nil))
	}}, setup...)
	ss.addr = serve(t, p, sessionHandler(file), setup...)
	t.Cleanup(cfg.Wait) // before the store's directory is removed
	return ss
}

func jarClient(t testing.TB) *nethttp.Client {
	cl := client(t)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	cl.Jar = jar
	return cl
}

func getBody(t testing.TB, cl *nethttp.Client, url string) (string, *nethttp.Response) {
	t.Helper()
	resp, err := cl.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	return readAll(t, resp), resp
}

func expectBody(t testing.TB, cl *nethttp.Client, url, want string) *nethttp.Response {
	t.Helper()
	got, resp := getBody(t, cl, url)
	if got != want {
		t.Fatalf("GET %s: %q, want %q", url, got, want)
	}
	return resp
}

func sessionCookie(resp *nethttp.Response) *nethttp.Cookie {
	for _, ck := range resp.Cookies() {
		if ck.Name == http.DefaultSessionCookie {
			return ck
		}
	}
	return nil
}

func TestSessionVisits(t *testing.T) {
	ss := serveSessions(t, nil)
	base := "http://" + ss.addr
	cl := jarClient(t)
	resp := expectBody(t, cl, base+"/visits", "1")
	ck := sessionCookie(resp)
	if ck == nil {
		t.Fatal("no session cookie")
	}
	raw := resp.Header.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=86400"} {
		if !strings.Contains(raw, attr) {
			t.Errorf("Set-Cookie %q lacks %s", raw, attr)
		}
	}
	if strings.Contains(raw, "Secure") {
		t.Errorf("Set-Cookie %q is Secure without TLS", raw)
	}
	if len(ck.Value) != 32 {
		t.Errorf("id %q is not 32 hex digits", ck.Value)
	}
	for i := 2; i <= 5; i++ {
		resp := expectBody(t, cl, base+"/visits", strconv.Itoa(i))
		if resp.Header.Get("Set-Cookie") != "" {
			t.Fatalf("visit %d: a known session's cookie was set again: %q", i, resp.Header.Get("Set-Cookie"))
		}
	}
	// The session of a file response is saved too.
	expectBody(t, cl, base+"/file", "file body")
	expectBody(t, cl, base+"/peek", "6")
	// Another client has its own session.
	expectBody(t, jarClient(t), base+"/visits", "1")
	if n := ss.store.Len(); n != 2 {
		t.Fatalf("store holds %d sessions, want 2", n)
	}
}

// TestSessionUntouched: a new session that stays empty is neither stored
// nor given a cookie.
func TestSessionUntouched(t *testing.T) {
	ss := serveSessions(t, nil)
	cl := jarClient(t)
	resp := expectBody(t, cl, "http://"+ss.addr+"/peek", "0")
	if c := resp.Header.Get("Set-Cookie"); c != "" {
		t.Fatalf("Set-Cookie %q for an empty session", c)
	}
	if n := ss.store.Len(); n != 0 {
		t.Fatalf("store holds %d sessions", n)
	}
}

// TestSessionFixation: an id the server did not make (or forgot) is never
// adopted: the client gets a new one.
func TestSessionFixation(t *testing.T) {
	ss := serveSessions(t, nil)
	cl := client(t)
	planted := strings.Repeat("ab", 16)
	req, _ := nethttp.NewRequest("GET", "http://"+ss.addr+"/visits", nil)
	req.Header.Set("Cookie", http.DefaultSessionCookie+"="+planted)
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if b := readAll(t, resp); b != "1" {
		t.Fatalf("body %q", b)
	}
	ck := sessionCookie(resp)
	if ck == nil || ck.Value == planted || len(ck.Value) != 32 {
		t.Fatalf("planted id adopted or no new id: %v", ck)
	}
	// The planted id still opens nothing.
	resp, err = cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if b := readAll(t, resp); b != "1" {
		t.Fatalf("planted id counted: %q", b)
	}
}

// TestSessionBadCookies: garbage, oversized and repeated session cookies
// are answered normally, with a fresh session.
func TestSessionBadCookies(t *testing.T) {
	ss := serveSessions(t, nil)
	name := http.DefaultSessionCookie
	known := ""
	{ // a real session, to be found among bad cookies
		cl := jarClient(t)
		resp := expectBody(t, cl, "http://"+ss.addr+"/visits", "1")
		known = sessionCookie(resp).Value
	}
	cases := []struct {
		name, cookie, want string
	}{
		{"garbage", name + "=%00%7f;;==;" + name + "; =x; " + name + "==" + known, "1"},
		{"binary", name + "=\xff\xfe\xfd" + strings.Repeat("\x80", 29), "1"},
		{"upper-case hex", name + "=" + strings.ToUpper(known), "1"},
		{"too long", name + "=" + known + "0", "1"},
		{"oversized", name + "=" + strings.Repeat("a", 30000), "1"},
		{"many", strings.Repeat(name+"="+strings.Repeat("c", 32)+"; ", 60), "1"},
		{"many then real", strings.Repeat(name+"=zz; ", 60) + name + "=" + known, "2"},
		{"quoted", name + `="` + known + `"`, "3"},
		{"no value", name + "=", "1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := rawConn(t, ss.addr)
			fmt.Fprintf(c, "GET /visits HTTP/1.1\r\nHost: x\r\nCookie: %s\r\n\r\n", tc.cookie)
			resp, err := nethttp.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			if b := readAll(t, resp); resp.StatusCode != 200 || b != tc.want {
				t.Fatalf("%d %q, want 200 %q", resp.StatusCode, b, tc.want)
			}
			ck := sessionCookie(resp)
			if tc.want == "1" && (ck == nil || ck.Value == known) {
				t.Fatalf("no fresh session: %v", ck)
			}
		})
	}
}

// TestSessionExpiry: past IdleTimeout, and past Lifetime however busy,
// a session is gone; the sweep removes it from the store.
func TestSessionExpiry(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		ss := serveSessions(t, &http.Sessions{IdleTimeout: 300 * time.Millisecond, SweepInterval: 50 * time.Millisecond})
		cl := jarClient(t)
		base := "http://" + ss.addr
		expectBody(t, cl, base+"/visits", "1")
		time.Sleep(100 * time.Millisecond)
		expectBody(t, cl, base+"/visits", "2") // within the idle time: moves it
		time.Sleep(200 * time.Millisecond)
		expectBody(t, cl, base+"/visits", "3")
		deadline := time.Now().Add(5 * time.Second)
		for ss.store.Len() != 0 {
			if time.Now().After(deadline) {
				t.Fatal("the sweep left an expired session")
			}
			time.Sleep(20 * time.Millisecond)
		}
		expectBody(t, cl, base+"/visits", "1")
	})
	t.Run("read only moves idle expiry", func(t *testing.T) {
		ss := serveSessions(t, &http.Sessions{IdleTimeout: 400 * time.Millisecond})
		cl := jarClient(t)
		base := "http://" + ss.addr
		expectBody(t, cl, base+"/visits", "1")
		for i := 0; i < 8; i++ { // 800 ms of reads, each within the idle time
			time.Sleep(100 * time.Millisecond)
			expectBody(t, cl, base+"/peek", "1")
		}
	})
	t.Run("lifetime", func(t *testing.T) {
		ss := serveSessions(t, &http.Sessions{Lifetime: 400 * time.Millisecond})
		cl := jarClient(t)
		base := "http://" + ss.addr
		expectBody(t, cl, base+"/visits", "1")
		end := time.Now().Add(600 * time.Millisecond)
		n := 1
		for time.Now().Before(end) {
			time.Sleep(50 * time.Millisecond)
			got, _ := getBody(t, cl, base+"/visits")
			if got == "1" {
				if time.Until(end) > 300*time.Millisecond {
					t.Fatalf("session ended early, after %d visits", n)
				}
				return
			}
			n++
		}
		t.Fatal("session outlived its lifetime")
	})
}

func TestSessionLoginLogout(t *testing.T) {
	ss := serveSessions(t, nil)
	base := "http://" + ss.addr
	cl := jarClient(t)
	before := sessionCookie(expectBody(t, cl, base+"/visits", "1")).Value
	resp := expectBody(t, cl, base+"/login?user=ann", "hello ann")
	after := sessionCookie(resp)
	if after == nil || after.Value == before {
		t.Fatalf("login kept the id: %v", after)
	}
	expectBody(t, cl, base+"/get?k=user", "ann")
	expectBody(t, cl, base+"/visits", "2") // values survive the new id
	// The old id opens nothing any more.
	req, _ := nethttp.NewRequest("GET", base+"/get?k=user", nil)
	req.Header.Set("Cookie", http.DefaultSessionCookie+"="+before)
	resp, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if b := readAll(t, resp); b != "" {
		t.Fatalf("old id still opens the session: %q", b)
	}
	resp = expectBody(t, cl, base+"/logout", "bye")
	if raw := resp.Header.Get("Set-Cookie"); !strings.Contains(raw, "Max-Age=0") {
		t.Fatalf("logout did not clear the cookie: %q", raw)
	}
	expectBody(t, cl, base+"/get?k=user", "")
	if n := ss.store.Len(); n != 0 {
		t.Fatalf("store holds %d sessions after logout", n)
	}
}

// TestSessionConcurrentKeys: two requests of one session at once, each
// writing its own key, keep both writes.
func TestSessionConcurrentKeys(t *testing.T) {
	ss := serveSessions(t, nil)
	base := "http://" + ss.addr
	cl := jarClient(t)
	expectBody(t, cl, base+"/visits", "1")
	var wg sync.WaitGroup
	for _, k := range []string{"a", "b", "c"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := cl.Get(base + "/set?wait=1&k=" + k + "&v=" + k + k)
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	for _, k := range []string{"a", "b", "c"} {
		expectBody(t, cl, base+"/get?k="+k, k+k)
	}
	expectBody(t, cl, base+"/peek", "1")
}

// TestSessionTooLarge: a save past MaxSize fails and is logged; the
// response goes out and the session keeps what it had.
func TestSessionTooLarge(t *testing.T) {
	ss := serveSessions(t, &http.Sessions{MaxSize: 4 << 10})
	base := "http://" + ss.addr
	cl := jarClient(t)
	expectBody(t, cl, base+"/visits", "1")
	expectBody(t, cl, base+"/big?n=10000", "ok")
	waitLog(t, ss.logs, "session too large")
	expectBody(t, cl, base+"/get?k=big", "")
	expectBody(t, cl, base+"/visits", "2")
	expectBody(t, cl, base+"/big?n=1000", "ok")
	got, _ := getBody(t, cl, base+"/get?k=big")
	if len(got) != 1000 {
		t.Fatalf("a session within the limit was not saved: %d bytes", len(got))
	}
}

// TestSessionManyClients: 1,000 clients at once, each with its own
// session, never see another's.
func TestSessionManyClients(t *testing.T) {
	const clients, visits = 1000, 2
	ss := serveSessions(t, &http.Sessions{}, func(g *core.Goer) { g.MaxConnections = 0 })
	base := "http://" + ss.addr
	tr := &nethttp.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	t.Cleanup(tr.CloseIdleConnections)
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jar, _ := cookiejar.New(nil)
			cl := &nethttp.Client{Transport: tr, Jar: jar, Timeout: 30 * time.Second}
			<-start
			me := fmt.Sprint("client-", i)
			get := func(path string) (string, error) {
				resp, err := cl.Get(base + path)
				if err != nil {
					return "", err
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				return string(b), err
			}
			if _, err := get("/set?k=me&v=" + me); err != nil {
				errs <- err
				return
			}
			for v := 1; v <= visits; v++ {
				got, err := get("/visits")
				if err != nil {
					errs <- err
					return
				}
				if got != strconv.Itoa(v) {
					errs <- fmt.Errorf("%s: visit %d counted %s", me, v, got)
					return
				}
			}
			if got, err := get("/get?k=me"); err != nil || got != me {
				errs <- fmt.Errorf("%s: session holds %q (%v)", me, got, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := ss.store.Len(); n != clients {
		t.Fatalf("store holds %d sessions, want %d", n, clients)
	}
}

// TestSessionCurl: curl's cookie jar keeps the session.
func TestSessionCurl(t *testing.T) {
	curl := lookTool(t, "curl")
	ss := serveSessions(t, nil)
	jar := filepath.Join(t.TempDir(), "jar")
	for i := 1; i <= 3; i++ {
		out := runTool(t, curl, "-sS", "--max-time", "10", "-b", jar, "-c", jar, "http://"+ss.addr+"/visits")
		if out != strconv.Itoa(i) {
			t.Fatalf("visit %d: %q", i, out)
		}
	}
}

type nethttpCookie = nethttp.Cookie

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// waitLog waits for what to be logged (saves may run after the response).
func waitLog(t testing.TB, logs *syncBuffer, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), what) {
		if time.Now().After(deadline) {
			t.Fatalf("%q not logged: %s", what, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
