package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sample returns the value of the first line of a text exposition that
// starts with series (a name, or a name and its first labels), "" if none.
func sample(body, series string) string {
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, series) {
			return line[strings.LastIndexByte(line, ' ')+1:]
		}
	}
	return ""
}

// scrapeOnce GETs the metrics on a connection of its own.
func scrapeOnce(addr string) (string, error) {
	cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := cl.Get("http://" + addr + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("status %s", resp.Status)
	}
	return string(b), err
}

// waitSample scrapes until series has the value want.
func waitSample(t *testing.T, addr, series, want string) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		body, err := scrapeOnce(addr)
		if err == nil && sample(body, series) == want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never became %s (err %v):\n%s", series, want, err, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wsOpen opens a WebSocket connection to the chat by hand.
func wsOpen(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", addr)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return c
}

// The chat serves its metrics on GOES_METRICS_ADDR, and the endpoint
// answers every scrape while the server reloads: its listening socket is
// handed to the new process like the chat's.
func TestChatMetricsAcrossReload(t *testing.T) {
	bin := build(t, "chat")
	addr, maddr := freePort(t), freePort(t)
	p := &proc{dir: t.TempDir(), bin: bin,
		env: append(os.Environ(), "GOES_ADDR="+addr, "GOES_METRICS_ADDR="+maddr)}
	p.command(t, "start", "-d")
	t.Cleanup(func() { p.command(t, "stop") })

	const open = 2
	var conns []net.Conn
	for i := 0; i < open; i++ {
		conns = append(conns, wsOpen(t, addr))
	}
	body := waitSample(t, maddr, `goes_connections_open{goer="chat",protocol="websocket",transport="tcp"}`, fmt.Sprint(open))
	if v := sample(body, "goes_reloads_total"); v != "0" {
		t.Fatalf("goes_reloads_total before any reload: %q", v)
	}

	// Scrape without pause, each on a new connection, through the reload.
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := scrapeOnce(maddr); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			} else {
				ok.Add(1)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	time.Sleep(200 * time.Millisecond)
	p.command(t, "reload")
	for _, c := range conns {
		c.Close() // the old process may finish
	}
	waitSample(t, maddr, "goes_reloads_total", "1")
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() > 0 || ok.Load() < 20 {
		t.Fatalf("scrapes during the reload: %d answered, %d failed (first: %v)", ok.Load(), failed.Load(), firstErr.Load())
	}
	t.Logf("%d scrapes answered during the reload, none failed", ok.Load())
}
