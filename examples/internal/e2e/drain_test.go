package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// drainServer starts reloadserver v1 with the given listeners and a long
// graceful timeout: a test that ends in a few seconds shows that nothing
// waited for it.
func drainServer(t *testing.T, env ...string) (s *server, v1, v2 string) {
	t.Helper()
	dir := t.TempDir()
	v1 = buildReloadServer(t, dir, "v1", "")
	v2 = buildReloadServer(t, dir, "v2", "")
	s = &server{dir: dir, events: filepath.Join(dir, "events")}
	s.env = append(append(os.Environ(), "GOES_EVENTS="+s.events, "GOES_GRACE=30s"), env...)
	s.must(t, v1, "start", "-d")
	t.Cleanup(func() { s.run(t, v1, "stop") })
	return s, v1, v2
}

// pidOf returns the pid in a "VERSION:PID:..." answer.
func pidOf(answer string) int {
	p, _ := strconv.Atoi(strings.SplitN(answer, ":", 3)[1])
	return p
}

func waitPidGone(t *testing.T, pid int, within time.Duration) time.Duration {
	t.Helper()
	begin := time.Now()
	for syscall.Kill(pid, 0) == nil {
		if time.Since(begin) > within {
			t.Fatalf("the old process %d still runs %v after the reload", pid, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(begin)
}

// Keep-alive HTTP clients (Go's client) under load through a reload: no
// request fails or has to be retried, every client is on the new process
// within a short time, and the old process exits long before its
// GracefulTimeout (30 s).
func TestReloadMovesKeepAliveClients(t *testing.T) {
	addr := freePort(t)
	s, _, v2 := drainServer(t, "GOES_HTTP="+addr)
	const clients = 16
	var (
		ok, failed, retried atomic.Int64
		firstErr            atomic.Value
		onV2                atomic.Int32
		stop                = make(chan struct{})
		wg                  sync.WaitGroup
		oldPid              atomic.Int64
	)
	deadline := time.Now().Add(40 * time.Second)
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			moved := false
			for n := 0; n < 100000 && time.Now().Before(deadline); n++ {
				select {
				case <-stop:
					return
				default:
				}
				conns := 0
				ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
					GotConn: func(httptrace.GotConnInfo) { conns++ },
				})
				req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+fmt.Sprintf("/c%d-%d", i, n), nil)
				resp, err := cl.Do(req)
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				if err == nil && !strings.HasSuffix(string(body), fmt.Sprintf(":/c%d-%d", i, n)) {
					err = fmt.Errorf("answer %q", body)
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				if conns > 1 {
					// The client sent the request on a connection the
					// server closed, and sent it again.
					retried.Add(1)
				}
				ok.Add(1)
				if strings.HasPrefix(string(body), "v1:") {
					oldPid.Store(int64(pidOf(string(body))))
				} else if !moved {
					moved = true
					onV2.Add(1)
				}
			}
		}(i)
	}
	time.Sleep(time.Second)
	if ok.Load() == 0 {
		close(stop)
		wg.Wait()
		t.Fatalf("no requests before the reload: %v", firstErr.Load())
	}
	s.must(t, v2, "reload")
	begin := time.Now()
	for onV2.Load() < clients && time.Since(begin) < 20*time.Second {
		time.Sleep(10 * time.Millisecond)
	}
	moved := time.Since(begin)
	gone := waitPidGone(t, int(oldPid.Load()), 20*time.Second)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || retried.Load() != 0 {
		t.Fatalf("%d requests failed, %d were retried (%d ok): %v", failed.Load(), retried.Load(), ok.Load(), firstErr.Load())
	}
	if onV2.Load() != clients || moved > 5*time.Second {
		t.Fatalf("%d of %d clients on the new process after %v", onV2.Load(), clients, moved)
	}
	t.Logf("%d requests; every client on the new process %v after the reload; the old process exited after %v",
		ok.Load(), moved.Round(time.Millisecond), gone.Round(time.Millisecond))
}

// wrk over a reload: no socket errors, and the old process exits long
// before its GracefulTimeout.
func TestReloadUnderWrk(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed: skipping the wrk reload test")
	}
	addr := freePort(t)
	s, _, v2 := drainServer(t, "GOES_HTTP="+addr)
	oldPid := pidOf(httpGet(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wrk, "-t", "2", "-c", "64", "-d", "6s", "--timeout", "5s", "http://"+addr+"/")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	s.must(t, v2, "reload")
	gone := waitPidGone(t, oldPid, 10*time.Second)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("wrk: %v\n%s", err, out.String())
	}
	if strings.Contains(out.String(), "Socket errors") || strings.Contains(out.String(), "Non-2xx") {
		t.Fatalf("wrk saw errors over the reload:\n%s", out.String())
	}
	if m := regexp.MustCompile(`(\d+) requests in`).FindStringSubmatch(out.String()); m == nil || m[1] == "0" {
		t.Fatalf("wrk made no requests:\n%s", out.String())
	}
	if got := httpGet(t, addr); !strings.HasPrefix(got, "v2:") {
		t.Fatalf("after the reload: %q", got)
	}
	t.Logf("the old process exited %v after the reload\n%s", gone.Round(time.Millisecond), out.String())
}

func httpGet(t *testing.T, addr string) string {
	t.Helper()
	cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := cl.Get("http://" + addr + "/probe")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A WebSocket client of the old process hears 1001 as soon as a reload's
// drain begins, and reconnecting reaches the new process; a text client
// with an OnGracefulStop hears its goodbye. The old process then exits at
// once.
func TestReloadTellsWebSocketAndTextClients(t *testing.T) {
	wsAddr, textAddr := freePort(t), freePort(t)
	s, _, v2 := drainServer(t, "GOES_WS="+wsAddr, "GOES_ADDR="+textAddr, "GOES_BYE=1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+wsAddr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	ws.Write(ctx, websocket.MessageText, []byte("hi"))
	_, msg, err := ws.Read(ctx)
	if err != nil || !strings.HasPrefix(string(msg), "v1:") {
		t.Fatalf("first answer %q %v", msg, err)
	}
	oldPid := pidOf(string(msg))
	tc, err := net.Dial("tcp", textAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tr := bufio.NewReader(tc)
	if got, err := ask(tc, tr, "hello"); err != nil || !strings.HasPrefix(got, "v1:") {
		t.Fatalf("text: %q %v", got, err)
	}

	s.must(t, v2, "reload")
	begin := time.Now()
	_, _, err = ws.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("the old process's WebSocket ended with %v, want 1001", err)
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Fatalf("1001 came %v after the reload", d)
	}
	tc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if line, err := tr.ReadString('\n'); err != nil || line != fmt.Sprintf("v1:%d:bye\n", oldPid) {
		t.Fatalf("text client: %q %v", line, err)
	}
	tc.Close()

	ws2, _, err := websocket.Dial(ctx, "ws://"+wsAddr+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws2.CloseNow()
	ws2.Write(ctx, websocket.MessageText, []byte("again"))
	if _, msg, err := ws2.Read(ctx); err != nil || !strings.HasPrefix(string(msg), "v2:") {
		t.Fatalf("after reconnecting: %q %v", msg, err)
	}
	gone := waitPidGone(t, oldPid, 10*time.Second)
	ws2.Close(websocket.StatusNormalClosure, "")
	t.Logf("the old process exited %v after its clients were told", gone.Round(time.Millisecond))
}
