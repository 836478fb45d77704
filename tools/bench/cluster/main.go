// Command cluster measures the cluster module over NATS on loopback:
//
//   - cross-node send-to-uid latency (p50, p99) at a fixed rate;
//
//   - send-to-all throughput to many connections spread over three nodes,
//     against one node in-process holding them all;
//
//   - the NATS traffic each node receives for group sends.
//
//     go run ./tools/bench/cluster -runs 3
//
// The nodes (each a Goer with a text protocol and a cluster.Node) share one
// process and an embedded NATS server; the clients of the throughput test
// run in a child process, so that neither side passes the open-file limit.
// Results are medians of -runs runs.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shunhui19/goes/cluster"
	"github.com/shunhui19/goes/cluster/embed"
	"github.com/shunhui19/goes/cluster/natsbus"
	"github.com/shunhui19/goes/core"
	"github.com/shunhui19/goes/protocol/text"
	_ "github.com/shunhui19/goes/transport/tcp"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "clients" {
		os.Exit(clientsMain(os.Args[2:]))
	}
	runs := flag.Int("runs", 3, "runs of each measurement; medians are reported")
	rate := flag.Int("rate", 1000, "send-to-uid messages per second")
	dur := flag.Duration("duration", 5*time.Second, "length of the latency run")
	conns := flag.Int("conns", 10000, "connections of the send-to-all test")
	msgs := flag.Int("msgs", 100, "send-to-all messages per run")
	groupMsgs := flag.Int("group-msgs", 1000, "group messages of the traffic test")
	flag.Parse()
	if err := run(*runs, *rate, *dur, *conns, *msgs, *groupMsgs); err != nil {
		fmt.Fprintln(os.Stderr, "bench/cluster:", err)
		os.Exit(1)
	}
}

func run(runs, rate int, dur time.Duration, conns, msgs, groupMsgs int) error {
	fmt.Printf("cluster benchmark: %d run(s), medians\n\n", runs)

	var p50s, p99s []time.Duration
	var lost int
	for i := range runs {
		p50, p99, l, err := latency(rate, dur)
		if err != nil {
			return err
		}
		fmt.Printf("  latency run %d: p50 %v p99 %v lost %d\n", i+1, p50, p99, l)
		p50s, p99s, lost = append(p50s, p50), append(p99s, p99), lost+l
	}
	fmt.Printf("send-to-uid across nodes at %d msg/s for %v: p50 %v, p99 %v (lost %d)\n\n", rate, dur, median(p50s), median(p99s), lost)

	var one, three []float64
	for i := range runs {
		r1, err := throughput(1, conns, msgs)
		if err != nil {
			return err
		}
		r3, err := throughput(3, conns, msgs)
		if err != nil {
			return err
		}
		fmt.Printf("  send-to-all run %d: 1 node %.0f/s, 3 nodes %.0f/s\n", i+1, r1, r3)
		one, three = append(one, r1), append(three, r3)
	}
	m1, m3 := median(one), median(three)
	fmt.Printf("send-to-all, %d connections, %d messages: 1 node in-process %.0f deliveries/s; 3 nodes over NATS %.0f deliveries/s (%.2f×), all delivered\n\n", conns, msgs, m1, m3, m3/m1)

	counts, err := groupTraffic(groupMsgs)
	if err != nil {
		return err
	}
	fmt.Printf("group sends (%d, members on nodes 0 and 1): NATS messages received per node for the group: %v\n", groupMsgs, counts)
	return nil
}

func median[T int64 | float64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// node is a Goer whose connections join a cluster.Node.
type node struct {
	g     *core.Goer
	n     *cluster.Node
	conns chan core.Connection
}

func startNode(url string, keep bool) (*node, error) {
	cfg := cluster.Config{Logger: quiet}
	if url != "" {
		bus, err := natsbus.Connect(url)
		if err != nil {
			return nil, err
		}
		cfg.Bus = bus
	}
	n, err := cluster.New(cfg)
	if err != nil {
		return nil, err
	}
	nd := &node{n: n}
	if keep {
		nd.conns = make(chan core.Connection, 16)
	}
	g := core.NewGoer("127.0.0.1:0", text.New(), "tcp")
	g.Logger = quiet
	g.MaxConnections = 0
	g.OnConnect = func(c core.Connection) {
		n.Add(c)
		if nd.conns != nil {
			nd.conns <- c
		}
	}
	n.Attach(g)
	if err := g.Start(); err != nil {
		n.Close()
		return nil, err
	}
	nd.g = g
	return nd, nil
}

func (nd *node) stop() {
	nd.g.Stop()
	nd.n.Close()
}

func startNATS() (*embed.Server, error) { return embed.Start(embed.Options{}) }

// latency sends to a uid held by another node at a fixed rate; each message
// carries its send time.
func latency(rate int, dur time.Duration) (p50, p99 time.Duration, lost int, err error) {
	srv, err := startNATS()
	if err != nil {
		return 0, 0, 0, err
	}
	defer srv.Shutdown()
	a, err := startNode(srv.ClientURL(), false)
	if err != nil {
		return 0, 0, 0, err
	}
	defer a.stop()
	b, err := startNode(srv.ClientURL(), true)
	if err != nil {
		return 0, 0, 0, err
	}
	defer b.stop()
	conn, err := net.Dial("tcp", b.g.Addr().String())
	if err != nil {
		return 0, 0, 0, err
	}
	defer conn.Close()
	sc := <-b.conns
	if err := b.n.BindUid(sc, "u"); err != nil {
		return 0, 0, 0, err
	}
	var mu sync.Mutex
	var lat []time.Duration
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := bufio.NewReader(conn)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			ns, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
			if err != nil {
				continue
			}
			d := time.Duration(time.Now().UnixNano() - ns)
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		}
	}()
	// Warm up, then send at the rate.
	ctx := context.Background()
	for range 100 {
		a.n.SendToUid(ctx, "u", []byte("0"))
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	lat = lat[:0]
	mu.Unlock()
	total := int(dur.Seconds() * float64(rate))
	interval := time.Second / time.Duration(rate)
	start := time.Now()
	for i := range total {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		if err := a.n.SendToUid(ctx, "u", []byte(strconv.FormatInt(time.Now().UnixNano(), 10))); err != nil {
			return 0, 0, 0, err
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(lat)
		mu.Unlock()
		if n >= total || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	conn.Close()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(lat) == 0 {
		return 0, 0, total, fmt.Errorf("no message arrived")
	}
	slices.Sort(lat)
	return lat[len(lat)/2], lat[len(lat)*99/100], total - len(lat), nil
}

// throughput sends msgs messages to all of conns connections spread over
// nodes nodes (1: in-process, no NATS) and returns deliveries per second.
func throughput(nodes, conns, msgs int) (float64, error) {
	url := ""
	if nodes > 1 {
		srv, err := startNATS()
		if err != nil {
			return 0, err
		}
		defer srv.Shutdown()
		url = srv.ClientURL()
	}
	var ns []*node
	var addrs []string
	for range nodes {
		nd, err := startNode(url, false)
		if err != nil {
			return 0, err
		}
		defer nd.stop()
		ns = append(ns, nd)
		addrs = append(addrs, nd.g.Addr().String())
	}
	cl, err := startClients(addrs, conns)
	if err != nil {
		return 0, err
	}
	defer cl.close()
	// Every connection joined its node before measuring.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, _ := ns[0].n.Count(context.Background())
		if c == conns {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%d nodes: %d of %d connections joined", nodes, c, conns)
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := int64(conns) * int64(msgs)
	start := time.Now()
	msg := []byte("0123456789abcdef0123456789abcdef")
	for range msgs {
		if err := ns[0].n.SendToAll(context.Background(), msg); err != nil {
			return 0, err
		}
	}
	got, err := cl.wait(want)
	if err != nil {
		return 0, err
	}
	el := time.Since(start)
	if got != want {
		return 0, fmt.Errorf("%d nodes: %d of %d delivered", nodes, got, want)
	}
	return float64(want) / el.Seconds(), nil
}

// groupTraffic sends group messages from the node without members and
// returns how many group messages each node received from NATS.
func groupTraffic(msgs int) ([]int64, error) {
	srv, err := startNATS()
	if err != nil {
		return nil, err
	}
	defer srv.Shutdown()
	var ns []*node
	for range 3 {
		nd, err := startNode(srv.ClientURL(), true)
		if err != nil {
			return nil, err
		}
		defer nd.stop()
		ns = append(ns, nd)
	}
	for i := range 2 {
		for range 10 {
			c, err := net.Dial("tcp", ns[i].g.Addr().String())
			if err != nil {
				return nil, err
			}
			defer c.Close()
			go io.Copy(io.Discard, c)
			if err := ns[i].n.JoinGroup(<-ns[i].conns, "room"); err != nil {
				return nil, err
			}
		}
	}
	// JoinGroup returns once the node's subscription is in effect at the
	// NATS server: the sends below reach every member.
	var before []int64
	for _, nd := range ns {
		before = append(before, nd.n.Stats().ToGroup.Load())
	}
	for range msgs {
		if err := ns[2].n.SendToGroup(context.Background(), "room", []byte("hello room")); err != nil {
			return nil, err
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for ns[0].n.Stats().ToGroup.Load()-before[0] < int64(msgs) || ns[1].n.Stats().ToGroup.Load()-before[1] < int64(msgs) {
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	var out []int64
	for i, nd := range ns {
		out = append(out, nd.n.Stats().ToGroup.Load()-before[i])
	}
	return out, nil
}

// clients is the child process holding the throughput test's clients.
type clients struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startClients(addrs []string, n int) (*clients, error) {
	cmd := exec.Command(os.Args[0], "clients", strconv.Itoa(n), strings.Join(addrs, ","))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &clients{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	if !c.out.Scan() || c.out.Text() != "ready" {
		c.close()
		return nil, fmt.Errorf("clients did not start: %q", c.out.Text())
	}
	return c, nil
}

// wait asks the child to wait for want lines in all and returns how many
// arrived (fewer after its 60 s timeout).
func (c *clients) wait(want int64) (int64, error) {
	fmt.Fprintf(c.in, "%d\n", want)
	if !c.out.Scan() {
		return 0, fmt.Errorf("clients vanished")
	}
	return strconv.ParseInt(c.out.Text(), 10, 64)
}

func (c *clients) close() {
	c.in.Close()
	c.cmd.Wait()
}

// clientsMain dials n connections spread over addrs, prints "ready", then
// for every number read from stdin waits until that many lines arrived in
// all (60 s at most) and prints the count.
func clientsMain(args []string) int {
	n, _ := strconv.Atoi(args[0])
	addrs := strings.Split(args[1], ",")
	var total atomic.Int64
	var conns []net.Conn
	for i := range n {
		c, err := net.Dial("tcp", addrs[i%len(addrs)])
		if err != nil {
			fmt.Fprintln(os.Stderr, "clients:", err)
			return 1
		}
		conns = append(conns, c)
		go func() {
			buf := make([]byte, 4096)
			for {
				k, err := c.Read(buf)
				for _, b := range buf[:k] {
					if b == '\n' {
						total.Add(1)
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		want, _ := strconv.ParseInt(in.Text(), 10, 64)
		deadline := time.Now().Add(60 * time.Second)
		for total.Load() < want && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		fmt.Println(total.Load())
		total.Store(0)
	}
	for _, c := range conns {
		c.Close()
	}
	return 0
}
