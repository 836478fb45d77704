package http_test

import (
	"bufio"
	"fmt"
	"io"
	nethttp "net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/http"
)

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu   sync.Mutex
	seen []string
	slow time.Duration // the longest elapsed
}

func (r *recorder) ObserveResponse(c core.Connection, method string, status int, elapsed time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	timed := "timed"
	if elapsed < 0 {
		timed = "untimed"
	}
	r.seen = append(r.seen, fmt.Sprintf("%s %d %s", method, status, timed))
	r.slow = max(r.slow, elapsed)
}

func (r *recorder) list() ([]string, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := append([]string(nil), r.seen...)
	sort.Strings(s)
	return s, r.slow
}

// The Observer hears of every response once: plain, streamed, from a
// static mount, and the parser's own rejections; elapsed spans the
// handler's work.
func TestObserver(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.txt"), []byte("file"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	p := http.New()
	p.Observer = rec
	p.ServeDir("/static/", dir)
	addr := serve(t, p, func(c core.Connection, _ []byte) {
		req := http.RequestOf(c)
		w := req.Response()
		switch req.Path() {
		case "/slow":
			time.Sleep(30 * time.Millisecond)
			w.SendString("slow")
		case "/stream":
			s, err := w.Stream()
			if err != nil {
				t.Error(err)
				return
			}
			s.WriteString("part")
			s.End()
		case "/missing":
			w.Status(404).SendString("no")
		default:
			w.SendString("ok")
		}
	})
	cl := client(t)
	for _, tc := range []struct{ method, path string }{
		{"GET", "/"}, {"POST", "/"}, {"GET", "/slow"}, {"GET", "/stream"}, {"DELETE", "/missing"}, {"GET", "/static/a.txt"}, {"HEAD", "/"},
	} {
		req, _ := nethttp.NewRequest(tc.method, "http://"+addr+tc.path, strings.NewReader(""))
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
	}
	c := rawConn(t, addr)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
	resp, err := nethttp.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("smuggling shape answered %d", resp.StatusCode)
	}
	want := []string{"DELETE 404 timed", "GET 200 timed", "GET 200 timed", "GET 200 timed", "GET 200 timed", "GET 400 untimed", "HEAD 200 timed", "POST 200 timed"}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, slow := rec.list()
		if strings.Join(got, ",") == strings.Join(want, ",") {
			if slow < 30*time.Millisecond || slow > 5*time.Second {
				t.Fatalf("the slow request took %v by the observer", slow)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("observed %q, want %q", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// timings is an Observer that keeps the elapsed of every response by
// method.
type timings struct {
	mu sync.Mutex
	by map[string]time.Duration
}

func (tm *timings) ObserveResponse(c core.Connection, method string, status int, elapsed time.Duration) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.by[method] = elapsed
}

func (tm *timings) get(method string) (time.Duration, bool) {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	d, ok := tm.by[method]
	return d, ok
}

// A request is timed from its delivery to the handler: a pipelined one
// read with the request before it from that one's response (answered on
// the lane or later from another goroutine), one whose bytes came after
// that response from its own delivery, however long the connection was
// idle in between.
func TestObserverTimesFromDelivery(t *testing.T) {
	const wait = 150 * time.Millisecond
	tm := &timings{by: map[string]time.Duration{}}
	p := http.New()
	p.Observer = tm
	addr := serve(t, p, func(c core.Connection, _ []byte) {
		w := http.RequestOf(c).Response()
		switch http.RequestOf(c).Path() {
		case "/slow":
			time.Sleep(wait)
			w.SendString("slow")
		case "/later":
			go func() {
				time.Sleep(wait)
				w.SendString("later")
			}()
		default:
			w.SendString("ok")
		}
	})
	const post = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
	for _, tc := range []struct {
		name          string
		first, second string // written in turn, with a pause of wait when second is not empty
	}{
		{"pipelined behind a slow handler", "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n" + post, ""},
		{"pipelined behind a later response", "GET /later HTTP/1.1\r\nHost: x\r\n\r\n" + post, ""},
		{"after an idle wait", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", post},
		{"its head's end after an idle wait", "GET / HTTP/1.1\r\nHost: x\r\n\r\n" + post[:20], post[20:]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clear(tm.by)
			c := rawConn(t, addr)
			br := bufio.NewReader(c)
			answer := func() {
				resp, err := nethttp.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				readAll(t, resp)
			}
			fmt.Fprint(c, tc.first)
			answer()
			if tc.second != "" {
				time.Sleep(wait)
				fmt.Fprint(c, tc.second)
			}
			answer()
			deadline := time.Now().Add(5 * time.Second)
			for {
				d, ok := tm.get("POST")
				if ok {
					if d < 0 || d >= wait/2 {
						t.Fatalf("the POST was timed %v; its handler answers at once", d)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the POST was never observed")
				}
				time.Sleep(5 * time.Millisecond)
			}
			if d, _ := tm.get("GET"); tc.name == "pipelined behind a slow handler" && d < wait {
				t.Fatalf("the slow GET was timed %v, its handler took %v", d, wait)
			}
		})
	}
}

// batchRecorder is a BatchObserver that counts responses by method and
// status, and the batches.
type batchRecorder struct {
	mu      sync.Mutex
	counts  map[string]int
	batches int
	most    int // the largest batch
}

func (r *batchRecorder) ObserveResponse(c core.Connection, method string, status int, elapsed time.Duration) {
	r.ObserveResponses(c, method, status, []time.Duration{elapsed})
	r.mu.Lock()
	r.batches--
	r.mu.Unlock()
}

func (r *batchRecorder) ObserveResponses(c core.Connection, method string, status int, elapsed []time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.counts[fmt.Sprintf("%s %d", method, status)] += len(elapsed)
	r.batches++
	r.most = max(r.most, len(elapsed))
}

func (r *batchRecorder) take() (map[string]int, int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, b, m := r.counts, r.batches, r.most
	r.counts, r.batches, r.most = map[string]int{}, 0, 0
	return c, b, m
}

// A BatchObserver is told of the responses to the pipelined requests of a
// read together, all of them, before the client can read one; a handler
// that switches the connection to another protocol in the middle of such
// a read loses none.
func TestBatchObserver(t *testing.T) {
	rec := &batchRecorder{counts: map[string]int{}}
	p := http.New()
	p.Observer = rec
	addr := serve(t, p, func(c core.Connection, data []byte) {
		req := http.RequestOf(c)
		if req == nil { // raw, after /switch
			c.SendBytes(append([]byte("raw "), data...), true)
			return
		}
		switch req.Path() {
		case "/missing":
			req.Response().Status(404).SendString("no")
		case "/switch":
			req.Response().SendString("switching")
			tc := c.(*core.TCPConnection)
			tc.SetContext(nil)
			tc.SetProtocol(nil)
		default:
			req.Response().SendString("ok")
		}
	})
	get := func(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n" }
	post := "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
	read := func(t *testing.T, br *bufio.Reader, n int) {
		t.Helper()
		for range n {
			resp, err := nethttp.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			readAll(t, resp)
		}
	}

	t.Run("pipelined", func(t *testing.T) {
		c := rawConn(t, addr)
		br := bufio.NewReader(c)
		fmt.Fprint(c, strings.Repeat(get("/"), 16))
		read(t, br, 16)
		counts, batches, most := rec.take()
		if counts["GET 200"] != 16 || len(counts) != 1 {
			t.Fatalf("observed %v once the responses were read, want 16 GET 200", counts)
		}
		if most < 2 {
			t.Fatalf("%d batches, the largest of %d: the read's responses were not gathered", batches, most)
		}
	})
	t.Run("mixed", func(t *testing.T) {
		c := rawConn(t, addr)
		br := bufio.NewReader(c)
		fmt.Fprint(c, get("/")+post+get("/")+get("/missing")+get("/"))
		read(t, br, 5)
		counts, _, _ := rec.take()
		want := map[string]int{"GET 200": 3, "POST 200": 1, "GET 404": 1}
		if fmt.Sprint(counts) != fmt.Sprint(want) {
			t.Fatalf("observed %v once the responses were read, want %v", counts, want)
		}
	})
	t.Run("switched", func(t *testing.T) {
		c := rawConn(t, addr)
		br := bufio.NewReader(c)
		fmt.Fprint(c, get("/")+get("/switch")+"after")
		read(t, br, 2)
		raw := make([]byte, len("raw after"))
		if _, err := io.ReadFull(br, raw); err != nil || string(raw) != "raw after" {
			t.Fatalf("after the switch: %q %v", raw, err)
		}
		if counts, _, _ := rec.take(); counts["GET 200"] != 2 || len(counts) != 1 {
			t.Fatalf("observed %v, want 2 GET 200", counts)
		}
	})
}
