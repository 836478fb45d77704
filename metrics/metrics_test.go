package metrics_test

import (
	"bufio"
	"fmt"
	"net"
	nethttp "net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/metrics"
	"github.com/shunhui19/goes/protocol/http"
	"github.com/shunhui19/goes/protocol/text"
	"github.com/shunhui19/goes/protocol/websocket"
)

// server is three Goers (a line echo, an HTTP app and a WebSocket echo)
// with their metrics served on a fourth.
type server struct {
	echo, web, ws, scrape string
	m                     *metrics.Metrics
}

func newServer(t *testing.T) *server {
	echo := core.NewGoer("127.0.0.1:0", text.New(), "tcp")
	echo.Name = "echo"
	echo.OnMessage = func(c core.Connection, data []byte) {
		if string(data) == "panic" {
			panic("boom")
		}
		c.SendBytes(data, false)
	}
	web := core.NewGoer("127.0.0.1:0", http.New(), "tcp")
	web.Name = "web"
	ws := core.NewGoer("127.0.0.1:0", websocket.New(), "tcp")
	ws.Name = "ws"
	ws.OnMessage = func(c core.Connection, data []byte) {
		websocket.SendMessage(c, websocket.MessageTypeOf(c), data)
	}
	m := metrics.New(echo, web, ws)
	web.OnMessage = func(c core.Connection, _ []byte) {
		req := http.RequestOf(c)
		w := req.Response()
		switch {
		case req.Path() == "/metrics":
			m.Serve(c)
		case req.Path() == "/ok":
			w.SendString("ok")
		case req.Method() == "POST":
			w.Status(201).SendString("made")
		default:
			w.Status(404).SendString("no")
		}
	}
	return &server{echo: start(t, echo), web: start(t, web), ws: start(t, ws), scrape: start(t, m.Goer("127.0.0.1:0")), m: m}
}

// A known workload, then every count read back through the exposition
// format: N connections sending M lines each and one panic, K HTTP
// requests with known statuses, one WebSocket session.
func TestExactValues(t *testing.T) {
	s := newServer(t)
	const N, M = 4, 5
	var bytesIn, bytesOut int
	for i := 0; i < N; i++ {
		c, err := net.Dial("tcp", s.echo)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		for j := 0; j < M; j++ {
			line := fmt.Sprintf("message %d of connection %d\n", j, i)
			fmt.Fprint(c, line)
			got, err := br.ReadString('\n')
			if err != nil || got != line {
				t.Fatalf("echo: %q %v", got, err)
			}
			bytesIn += len(line)
			bytesOut += len(line)
		}
		if i == 0 {
			fmt.Fprint(c, "panic\n")
			bytesIn += len("panic\n")
			if _, err := br.ReadString('\n'); err == nil {
				t.Fatal("the connection whose handler panicked stayed open")
			}
		}
		c.Close()
	}

	cl := &nethttp.Client{Timeout: 10 * time.Second}
	for _, r := range []struct {
		method, path string
		status       int
	}{{"GET", "/ok", 200}, {"GET", "/ok", 200}, {"GET", "/ok", 200}, {"GET", "/nope", 404}, {"GET", "/nope", 404}, {"POST", "/make", 201}} {
		req, _ := nethttp.NewRequest(r.method, "http://"+s.web+r.path, nil)
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != r.status {
			t.Fatalf("%s %s: %d", r.method, r.path, resp.StatusCode)
		}
	}
	cl.CloseIdleConnections()
	bad, err := net.Dial("tcp", s.web)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(bad, "NOT HTTP AT ALL\r\n\r\n")
	bad.SetDeadline(time.Now().Add(10 * time.Second))
	if resp, err := nethttp.ReadResponse(bufio.NewReader(bad), nil); err != nil || resp.StatusCode != 400 {
		t.Fatalf("a malformed request: %v %v", resp, err)
	}
	bad.Close()

	wc, br := wsDial(t, s.ws)
	for _, f := range []struct {
		op      byte
		payload string
		answer  byte
	}{{0x1, "hi", 0x1}, {0x2, "bin", 0x2}, {0x9, "p", 0xA}, {0x8, "\x03\xe8", 0x8}} {
		wc.Write(wsFrame(f.op, []byte(f.payload)))
		if op, got := wsRead(t, br); op != f.answer || (f.op != 0x8 && string(got) != f.payload) {
			t.Fatalf("frame %x answered %x %q", f.op, op, got)
		}
	}
	wc.Close()

	f := eventually(t, s.scrape, "every connection counted closed", func(f families) bool {
		return f.value("goes_connections_open", "goer=echo") == 0 && f.value("goes_connections_open", "goer=web") == 0 &&
			f.value("goes_connections_open", "goer=ws") == 0 && f.value("goes_websocket_closes_total", "goer=ws", "code=1000") == 1
	})
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"goes_connections_accepted_total", []string{"goer=echo", "transport=tcp", "protocol=text"}, N},
		{"goes_connections_closed_total", []string{"goer=echo"}, N},
		{"goes_connections_rejected_total", []string{"goer=echo"}, 0},
		{"goes_messages_received_total", []string{"goer=echo"}, N*M + 1},
		{"goes_messages_sent_total", []string{"goer=echo"}, N * M},
		{"goes_read_bytes_total", []string{"goer=echo"}, float64(bytesIn)},
		{"goes_written_bytes_total", []string{"goer=echo"}, float64(bytesOut)},
		{"goes_panics_recovered_total", []string{"goer=echo"}, 1},
		{"goes_errors_total", []string{"goer=echo", "error=panic"}, 1},
		{"goes_errors_total", []string{"goer=echo", "error=protocol"}, 0},
		{"goes_send_failures_total", []string{"goer=echo"}, 0},
		{"goes_send_buffer_full_total", []string{"goer=echo"}, 0},
		{"goes_timers_pending", []string{"goer=echo"}, 0},
		{"goes_goer_running", []string{"goer=echo"}, 1},

		{"goes_messages_received_total", []string{"goer=web", "protocol=http"}, 6},
		{"goes_http_requests_total", []string{"goer=web", "method=GET", "code=2xx"}, 3},
		{"goes_http_requests_total", []string{"goer=web", "method=GET", "code=4xx"}, 2},
		{"goes_http_requests_total", []string{"goer=web", "method=POST", "code=2xx"}, 1},
		{"goes_http_requests_total", []string{"goer=web", "method=other", "code=4xx"}, 1},
		{"goes_http_request_duration_seconds", []string{"goer=web", "method=GET"}, 5},
		{"goes_http_request_duration_seconds", []string{"goer=web", "method=POST"}, 1},
		{"goes_errors_total", []string{"goer=web", "error=protocol"}, 1},
		{"goes_timers_pending", []string{"goer=web"}, 1},

		{"goes_connections_accepted_total", []string{"goer=ws", "protocol=websocket"}, 1},
		{"goes_websocket_messages_total", []string{"goer=ws", "direction=received", "type=text"}, 1},
		{"goes_websocket_messages_total", []string{"goer=ws", "direction=received", "type=binary"}, 1},
		{"goes_websocket_messages_total", []string{"goer=ws", "direction=received", "type=ping"}, 1},
		{"goes_websocket_messages_total", []string{"goer=ws", "direction=received", "type=close"}, 1},
		{"goes_websocket_messages_total", []string{"goer=ws", "direction=sent", "type=text"}, 1},
		{"goes_websocket_messages_total", []string{"goer=ws", "direction=sent", "type=binary"}, 1},
		{"goes_websocket_messages_total", []string{"goer=ws", "direction=sent", "type=pong"}, 1},
		{"goes_websocket_messages_total", []string{"goer=ws", "direction=sent", "type=close"}, 1},
		{"goes_messages_received_total", []string{"goer=ws"}, 2},

		{"goes_reloads_total", nil, 0},
		{"goes_build_info", []string{"version=" + core.Version}, 1},
	} {
		if got := f.value(c.name, c.labels...); got != c.want {
			t.Errorf("%s{%s} = %v, want %v; series:\n%s", c.name, strings.Join(c.labels, ","), got, c.want, f.series(c.name))
		}
	}
	if got := f.value("goes_http_requests_total", "goer=web", "method=GET", "code=5xx"); got != -1 {
		t.Errorf("a status class never answered is exported: %v", got)
	}
	started := f.value("goes_goer_start_time_seconds", "goer=echo")
	if now := float64(time.Now().Unix()); started < now-60 || started > now+1 {
		t.Errorf("goes_goer_start_time_seconds = %v, now is %v", started, now)
	}
	for _, name := range []string{"go_goroutines", "process_open_fds", "process_start_time_seconds"} {
		if _, ok := f[name]; !ok {
			t.Errorf("the standard collectors give no %s", name)
		}
	}
	// The handler mounted on the program's own HTTP Goer serves the same.
	if got := scrape(t, s.web).value("goes_connections_accepted_total", "goer=echo"); got != N {
		t.Errorf("the mounted handler gives goes_connections_accepted_total{goer=echo} = %v", got)
	}
}

// Every metric follows Prometheus's naming conventions.
func TestLint(t *testing.T) {
	s := newServer(t)
	c, err := net.Dial("tcp", s.web)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(c, "GET /ok HTTP/1.0\r\n\r\n")
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if resp, err := nethttp.ReadResponse(bufio.NewReader(c), nil); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /ok: %v %v", resp, err)
	}
	c.Close()
	eventually(t, s.scrape, "the request counted", func(f families) bool {
		return f.value("goes_http_requests_total", "goer=web", "code=2xx") == 1
	})
	problems, err := testutil.GatherAndLint(s.m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// Paths other than /metrics are not found on the metrics Goer.
func TestOtherPaths(t *testing.T) {
	s := newServer(t)
	resp, err := (&nethttp.Client{Timeout: 10 * time.Second}).Get("http://" + s.scrape + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("GET / on the metrics Goer: %d", resp.StatusCode)
	}
}

// Two Goers sharing one HTTP Protocol count their requests apart.
func TestSharedProtocol(t *testing.T) {
	p := http.New()
	a := core.NewGoer("127.0.0.1:0", p, "tcp")
	a.Name = "a"
	b := core.NewGoer("127.0.0.1:0", p, "tcp")
	b.Name = "b"
	ok := func(c core.Connection, _ []byte) { c.Send("ok", false) }
	a.OnMessage, b.OnMessage = ok, ok
	m := metrics.New(a, b)
	addrA, addrB := start(t, a), start(t, b)
	scrapeAddr := start(t, m.Goer("127.0.0.1:0"))
	cl := &nethttp.Client{Timeout: 10 * time.Second}
	for _, addr := range []string{addrA, addrB, addrB} {
		resp, err := cl.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	cl.CloseIdleConnections()
	eventually(t, scrapeAddr, "one request on a, two on b", func(f families) bool {
		return f.value("goes_http_requests_total", "goer=a", "code=2xx") == 1 && f.value("goes_http_requests_total", "goer=b", "code=2xx") == 2
	})
}
