package main

import (
	"io"
	nethttp "net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func sessionClient(t *testing.T) *nethttp.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &nethttp.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &nethttp.Client{Transport: tr, Jar: jar, Timeout: 10 * time.Second}
}

func fetch(t *testing.T, cl *nethttp.Client, method, u string, form url.Values) string {
	t.Helper()
	var resp *nethttp.Response
	var err error
	if method == "POST" {
		resp, err = cl.PostForm(u, form)
	} else {
		resp, err = cl.Get(u)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %v", method, u, resp.StatusCode, err)
	}
	return string(b)
}

// TestVisits: /visits counts per session, 1 for every new client.
func TestVisits(t *testing.T) {
	base := startSite(t)
	cl := sessionClient(t)
	for i := 1; i <= 3; i++ {
		if got := fetch(t, cl, "GET", base+"/visits", nil); got != strconv.Itoa(i)+"\n" {
			t.Fatalf("visit %d: %q", i, got)
		}
	}
	if got := fetch(t, sessionClient(t), "GET", base+"/visits", nil); got != "1\n" {
		t.Fatalf("a new client: %q", got)
	}
}

// TestLogin: log in, see the name, log out.
func TestLogin(t *testing.T) {
	base := startSite(t)
	cl := sessionClient(t)
	if got := fetch(t, cl, "GET", base+"/login", nil); !strings.Contains(got, "Not logged in") {
		t.Fatalf("before login: %s", got)
	}
	if got := fetch(t, cl, "POST", base+"/login", url.Values{"name": {"<ann>"}}); !strings.Contains(got, "Logged in as &lt;ann&gt;.") {
		t.Fatalf("after login: %s", got)
	}
	if got := fetch(t, sessionClient(t), "GET", base+"/login", nil); !strings.Contains(got, "Not logged in") {
		t.Fatalf("another client is logged in: %s", got)
	}
	if got := fetch(t, cl, "POST", base+"/logout", nil); !strings.Contains(got, "Not logged in") {
		t.Fatalf("after logout: %s", got)
	}
}
