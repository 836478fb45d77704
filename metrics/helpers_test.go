package metrics_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"go.uber.org/goleak"

	"github.com/shunhui19/goes/core"
)

func TestMain(m *testing.M) {
	if addr := os.Getenv(dialerEnv); addr != "" {
		holdConnections(addr) // the test binary run as a client process
		return
	}
	goleak.VerifyTestMain(m)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start starts g on loopback and stops it when the test ends.
func start(t testing.TB, g *core.Goer) string {
	t.Helper()
	g.Logger = quiet()
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Stop)
	return g.Addr().String()
}

// families is one scrape, decoded from the text exposition format.
type families map[string]*dto.MetricFamily

// scrape GETs http://addr/metrics and decodes the text exposition.
func scrape(t testing.TB, addr string) families {
	t.Helper()
	resp, err := (&nethttp.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: %s: %s", resp.Status, b)
	}
	format := expfmt.ResponseFormat(resp.Header)
	if format.FormatType() != expfmt.TypeTextPlain {
		t.Fatalf("scrape answered %q, want the text format", resp.Header.Get("Content-Type"))
	}
	fams := families{}
	dec := expfmt.NewDecoder(resp.Body, format)
	for {
		mf := &dto.MetricFamily{}
		if err := dec.Decode(mf); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decoding the exposition: %v", err)
		}
		fams[mf.GetName()] = mf
	}
	return fams
}

// metric returns the series of name whose labels include want ("k=v"
// pairs), nil when there is none.
func (f families) metric(name string, want ...string) *dto.Metric {
	mf, ok := f[name]
	if !ok {
		return nil
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for _, kv := range want {
			k, v, _ := strings.Cut(kv, "=")
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

// value returns the sample of name whose labels include want ("k=v"
// pairs), -1 when there is none; a histogram gives its count.
func (f families) value(name string, want ...string) float64 {
	m := f.metric(name, want...)
	switch {
	case m == nil:
		return -1
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return -1
}

// series lists name's label sets, for failure messages.
func (f families) series(name string) string {
	var out []string
	for _, m := range f[name].GetMetric() {
		var ls []string
		for _, lp := range m.GetLabel() {
			ls = append(ls, lp.GetName()+"="+lp.GetValue())
		}
		out = append(out, strings.Join(ls, ","))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// eventually scrapes until cond holds, for counts that settle after the
// peer saw its answer (a close, say).
func eventually(t testing.TB, addr, what string, cond func(families) bool) families {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f := scrape(t, addr)
		if cond(f) {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never held", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wsDial opens a WebSocket connection by hand.
func wsDial(t testing.TB, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", addr)
	br := bufio.NewReader(c)
	resp, err := nethttp.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return c, br
}

// wsFrame is a masked client frame (the zero mask) of at most 125 bytes.
func wsFrame(op byte, payload []byte) []byte {
	return append([]byte{0x80 | op, 0x80 | byte(len(payload)), 0, 0, 0, 0}, payload...)
}

// wsRead reads one short server frame.
func wsRead(t testing.TB, br *bufio.Reader) (op byte, payload []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		t.Fatal(err)
	}
	payload = make([]byte, h[1]&0x7f)
	if _, err := io.ReadFull(br, payload); err != nil {
		t.Fatal(err)
	}
	return h[0] & 0x0f, payload
}
