package http_test

import (
	"bufio"
	"crypto/tls"
	"io"
	nethttp "net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
)

func sessionFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "sess_*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSessionFileStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sessions")
	cfg := func() *http.Sessions { return &http.Sessions{Store: &http.FileStore{Dir: dir}, MaxSize: 4 << 10} }
	cfg1 := cfg()
	ss := serveSessions(t, cfg1)
	base := "http://" + ss.addr
	cl := jarClient(t)
	for i := 1; i <= 3; i++ {
		expectBody(t, cl, base+"/visits", strconv.Itoa(i))
	}
	// Another server's request does not wait for a save of this one,
	// which runs after the response.
	cfg1.Wait()
	if f := sessionFiles(t, dir); len(f) != 1 {
		t.Fatalf("session files %v", f)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("dir %v %v", fi, err)
	}

	// Another server (a new process, a reload) finds the session.
	cfg2 := cfg()
	ss2 := serveSessions(t, cfg2)
	base2 := "http://" + ss2.addr
	for _, ck := range cl.Jar.Cookies(mustURL(t, base)) {
		cl.Jar.SetCookies(mustURL(t, base2), []*nethttpCookie{ck})
	}
	expectBody(t, cl, base2+"/visits", "4")
	cfg2.Wait() // likewise

	t.Run("too large", func(t *testing.T) {
		expectBody(t, cl, base+"/big?n=10000", "ok")
		waitLog(t, ss.logs, "session too large")
		expectBody(t, cl, base+"/visits", "5")
	})
	t.Run("login logout", func(t *testing.T) {
		cl := jarClient(t)
		expectBody(t, cl, base+"/login?user=bob", "hello bob")
		expectBody(t, cl, base+"/get?k=user", "bob")
		cfg1.Wait() // the store's writes run after the responses
		before := len(sessionFiles(t, dir))
		expectBody(t, cl, base+"/logout", "bye")
		expectBody(t, cl, base+"/get?k=user", "")
		cfg1.Wait()
		if after := len(sessionFiles(t, dir)); after != before-1 {
			t.Fatalf("%d files before logout, %d after", before, after)
		}
	})
	t.Run("damaged file", func(t *testing.T) {
		cl := jarClient(t)
		resp := expectBody(t, cl, base+"/visits", "1")
		id := sessionCookie(resp).Value
		expectBody(t, cl, base+"/peek", "1") // waits for the save
		if err := os.WriteFile(filepath.Join(dir, "sess_"+id), []byte("GSS1garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
		resp = expectBody(t, cl, base+"/visits", "1")
		if ck := sessionCookie(resp); ck == nil || ck.Value == id {
			t.Fatalf("damaged session kept its id: %v", ck)
		}
	})
}

func TestSessionFileStoreExpiry(t *testing.T) {
	dir := t.TempDir()
	ss := serveSessions(t, &http.Sessions{Store: &http.FileStore{Dir: dir}, IdleTimeout: 300 * time.Millisecond, SweepInterval: 50 * time.Millisecond})
	base := "http://" + ss.addr
	cl := jarClient(t)
	expectBody(t, cl, base+"/visits", "1")
	expectBody(t, cl, base+"/visits", "2")
	stale := filepath.Join(dir, ".tmp-sess-crashed")
	if err := os.WriteFile(stale, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(stale, old, old)
	deadline := time.Now().Add(5 * time.Second)
	for len(sessionFiles(t, dir)) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the sweep left an expired session file")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Fatal("the sweep left an old temporary file")
	}
	expectBody(t, cl, base+"/visits", "1")
}

// TestSessionSavedAtClose: a save runs after the response even when the
// connection closes right away, by the server ("Connection: close") or by
// the client.
func TestSessionSavedAtClose(t *testing.T) {
	ss := serveSessions(t, &http.Sessions{Store: &http.FileStore{Dir: t.TempDir()}})
	roundTrip := func(cookie, header string, clientCloses bool) *nethttp.Response {
		c := rawConn(t, ss.addr)
		req := "GET /visits HTTP/1.1\r\nHost: x\r\n" + header
		if cookie != "" {
			req += "Cookie: " + http.DefaultSessionCookie + "=" + cookie + "\r\n"
		}
		io.WriteString(c, req+"\r\n")
		resp, err := nethttp.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		if clientCloses {
			c.Close()
		}
		return resp
	}
	resp := roundTrip("", "Connection: close\r\n", false)
	id := sessionCookie(resp).Value
	for i := 2; i <= 4; i++ {
		resp := roundTrip(id, "Connection: close\r\n", i%2 == 0)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	cl := client(t)
	req, _ := nethttp.NewRequest("GET", "http://"+ss.addr+"/peek", nil)
	req.Header.Set("Cookie", http.DefaultSessionCookie+"="+id)
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if b := readAll(t, resp); b != "4" {
		t.Fatalf("visits %q after 4 closed connections, want 4", b)
	}
}

// TestSessionSecureOnTLS: on a TLS Goer the cookie is Secure.
func TestSessionSecureOnTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	ss := serveSessions(t, nil, func(g *core.Goer) {
		g.Transport = "ssl"
		g.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	})
	tr := &nethttp.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	cl := &nethttp.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := cl.Get("https://" + ss.addr + "/visits")
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if raw := resp.Header.Get("Set-Cookie"); !strings.Contains(raw, "; Secure") || !strings.Contains(raw, "HttpOnly") {
		t.Fatalf("Set-Cookie %q on TLS", raw)
	}
}
