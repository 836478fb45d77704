package metrics_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/metrics"
	"github.com/shunhui19/goes/protocol/text"
)

// dialerEnv makes the test binary a client process that holds connections
// open: "address count". A process of its own, since one process may not
// hold both ends of 10,000 connections within the open-file limit.
const dialerEnv = "GOES_METRICS_TEST_DIAL"

// holdConnections dials count connections to address, says "ready" on
// stdout and holds them until stdin closes.
func holdConnections(spec string) {
	addr, n, _ := strings.Cut(spec, " ")
	count, _ := strconv.Atoi(n)
	conns := make([]net.Conn, 0, count)
	for len(conns) < count {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			fmt.Printf("dial %d: %v\n", len(conns), err)
			os.Exit(1)
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

// A scrape with 10,000 open connections answers within 50 ms (500 ms
// under the race detector): nothing in it walks the connections.
func TestScrapeWith10000Connections(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: 10,000 connections")
	}
	const conns = 10000
	g := core.NewGoer("127.0.0.1:0", text.New(), "tcp")
	g.Name = "many"
	m := metrics.New(g)
	addr := start(t, g)
	scrapeAddr := start(t, m.Goer("127.0.0.1:0"))

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), dialerEnv+"="+addr+" "+strconv.Itoa(conns))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
		io.Copy(io.Discard, stdout)
	}()
	select {
	case line := <-ready:
		if line != "ready\n" {
			t.Fatalf("the client process: %q", line)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the client process did not open its connections within 60 s")
	}
	eventually(t, scrapeAddr, "10,000 connections open", func(f families) bool {
		return f.value("goes_connections_open", "goer=many") == conns
	})

	cl := &nethttp.Client{Timeout: 10 * time.Second}
	var took []time.Duration
	for i := 0; i < 9; i++ {
		t0 := time.Now()
		resp, err := cl.Get("http://" + scrapeAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		took = append(took, time.Since(t0))
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	median := took[len(took)/2]
	t.Logf("scrapes with %d open connections: median %v, fastest %v, slowest %v", conns, median, took[0], took[len(took)-1])
	limit := 50 * time.Millisecond
	if raceEnabled {
		limit *= 10 // the race detector's cost; the bound holds without it
	}
	if median > limit {
		t.Fatalf("a scrape with %d open connections takes %v (median of %d), over %v", conns, median, len(took), limit)
	}
}
