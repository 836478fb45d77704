package tcp_test

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shunhui19/goes/core"
)

func TestIdleTimeout(t *testing.T) {
	codes := make(chan int, 4)
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	g.IdleTimeout = time.Second
	g.OnError = func(_ core.Connection, code int, _ string) { codes <- code }
	g.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(d, false) }
	addr := start(t, g)

	idle := dial(t, addr)
	busy := dial(t, addr)
	r := bufio.NewReader(busy)
	began := time.Now()
	for i := 0; i < 12; i++ { // 2.4 s of traffic keeps busy open
		fmt.Fprintf(busy, "%d\n", i)
		readLine(t, r)
		time.Sleep(200 * time.Millisecond)
	}
	expectCleanEOF(t, idle, 10*time.Second)
	if el := time.Since(began); el < time.Second {
		t.Fatalf("idle connection closed after %v", el)
	}
	if code := <-codes; code != core.ErrCodeIdleTimeout {
		t.Fatalf("code %d", code)
	}
	fmt.Fprintf(busy, "still\n")
	if got := readLine(t, r); got != "still" {
		t.Fatalf("busy connection: %q", got)
	}
}

func TestMaxConnections(t *testing.T) {
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	g.MaxConnections = 3
	g.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(d, false) }
	addr := start(t, g)
	var open []net.Conn
	for i := 0; i < 3; i++ {
		c := dial(t, addr)
		fmt.Fprintf(c, "hi\n")
		readLine(t, bufio.NewReader(c))
		open = append(open, c)
	}
	extra := dial(t, addr)
	fmt.Fprintf(extra, "hi\n")
	// The refused socket is closed at once, maybe with the "hi" unread,
	// which the kernel answers with a reset: either end will do.
	if b := expectEOF(t, extra); len(b) != 0 {
		t.Fatalf("refused connection got %q", b)
	}
	if g.Stats().Rejected.Load() != 1 {
		t.Fatalf("rejected %d", g.Stats().Rejected.Load())
	}
	open[0].Close()
	waitFor(t, "a free slot", func() bool { return g.Connections.Len() == 2 })
	c := dial(t, addr)
	fmt.Fprintf(c, "back\n")
	if got := readLine(t, bufio.NewReader(c)); got != "back" {
		t.Fatalf("got %q", got)
	}
}

func TestPauseResume(t *testing.T) {
	var got atomic.Int32
	conns := make(chan *core.TCPConnection, 1)
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	g.OnConnect = func(c core.Connection) { conns <- c.(*core.TCPConnection) }
	g.OnMessage = func(c core.Connection, d []byte) {
		if got.Add(1) == 2 {
			c.(*core.TCPConnection).PauseRecv()
		}
	}
	addr := start(t, g)
	cl := dial(t, addr)
	c := <-conns
	fmt.Fprintf(cl, "1\n2\n3\n4\n")
	waitFor(t, "two messages", func() bool { return got.Load() == 2 })
	time.Sleep(100 * time.Millisecond)
	if n := got.Load(); n != 2 || !c.IsPaused() {
		t.Fatalf("paused connection delivered %d messages", n)
	}
	c.ResumeRecv()
	waitFor(t, "the rest", func() bool { return got.Load() == 4 })
	fmt.Fprintf(cl, "5\n")
	waitFor(t, "a new message", func() bool { return got.Load() == 5 })
}

// A peer that sends half a frame and vanishes: the connection is closed and
// forgotten; nothing leaks (goleak checks at the end).
func TestHalfFrameThenVanish(t *testing.T) {
	closed := make(chan struct{})
	g := core.NewGoer("127.0.0.1:0", frames{}, "tcp")
	g.OnClose = func(core.Connection) { close(closed) }
	addr := start(t, g)
	c := dial(t, addr)
	c.Write([]byte{0, 0, 0, 100, 'a', 'b'})
	time.Sleep(20 * time.Millisecond)
	c.Close()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose did not run")
	}
	waitFor(t, "the store to empty", func() bool { return g.Connections.Len() == 0 })
}

// Connect/disconnect churn: every connection is accounted for and goroutines
// come back to where they were.
func TestChurn(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 1000
	}
	var opened, closed atomic.Int64
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	g.OnConnect = func(core.Connection) { opened.Add(1) }
	g.OnClose = func(core.Connection) { closed.Add(1) }
	g.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(d, false) }
	addr := start(t, g)
	before := runtime.NumGoroutine()
	deadline := time.Now().Add(60 * time.Second)
	const workers = 8
	var wg sync.WaitGroup
	var done atomic.Int64
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			// Spread over source addresses so that ports do not run out.
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(10+w))}, Timeout: 5 * time.Second}
			buf := make([]byte, 16)
			for i := w; i < n && time.Now().Before(deadline); i += workers {
				c, err := d.Dial("tcp", addr)
				if err != nil {
					t.Errorf("dial: %v", err)
					return
				}
				if i%2 == 0 { // half exchange a message, half leave at once
					c.SetDeadline(time.Now().Add(5 * time.Second))
					c.Write([]byte("x\n"))
					if _, err := io.ReadFull(c, buf[:2]); err != nil {
						t.Errorf("read: %v", err)
					}
				}
				c.Close()
				done.Add(1)
			}
		}(w)
	}
	wg.Wait()
	if done.Load() != int64(n) {
		t.Fatalf("only %d of %d connections in time", done.Load(), n)
	}
	waitFor(t, "every OnClose", func() bool { return closed.Load() == int64(n) })
	if opened.Load() != int64(n) {
		t.Fatalf("opened %d, want %d", opened.Load(), n)
	}
	if g.Connections.Len() != 0 {
		t.Fatalf("%d connections left in the store", g.Connections.Len())
	}
	// The epoll engine keeps up to 64 idle dispatch workers for reuse; a
	// leak would be in the thousands.
	waitFor(t, "goroutines to settle", func() bool { return runtime.NumGoroutine() <= before+100 })
}

// The manual's broadcast example: a new client is announced to the others.
func TestStoreBroadcast(t *testing.T) {
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	g.OnConnect = func(c core.Connection) {
		g.Connections.Range(func(_ int, other *core.TCPConnection) bool {
			if other.GetRemoteAddress() != c.GetRemoteAddress() {
				other.Send(fmt.Sprintf("a new client[%v] is online", c.GetRemoteAddress()), false)
			}
			return true
		})
	}
	addr := start(t, g)
	a := dial(t, addr)
	// a is announced to nobody; b is announced to a once a is in the store.
	waitFor(t, "a in the store", func() bool { return g.Connections.Len() == 1 })
	b := dial(t, addr)
	ra := bufio.NewReader(a)
	got := readLine(t, ra)
	if want := fmt.Sprintf("a new client[%v] is online", b.LocalAddr()); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if g.Connections.Len() != 2 {
		t.Fatalf("store has %d", g.Connections.Len())
	}
	var ids []int
	g.Connections.Range(func(id int, c *core.TCPConnection) bool {
		if g.Connections.Get(id) != c {
			t.Errorf("Get(%d) differs from Range", id)
		}
		ids = append(ids, id)
		return true
	})
	if len(ids) != 2 || ids[0] == ids[1] {
		t.Fatalf("ids %v", ids)
	}
}

// Per-connection callbacks and limits override the Goer's.
func TestPerConnectionOverrides(t *testing.T) {
	var n atomic.Int32
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	g.OnMessage = func(c core.Connection, _ []byte) { c.Send("goer", false) }
	g.OnConnect = func(c core.Connection) {
		if n.Add(1)%2 == 0 {
			return
		}
		tc := c.(*core.TCPConnection)
		tc.MaxPackageSize = 10
		tc.UserData = "own"
		tc.OnMessage = func(c core.Connection, d []byte) {
			c.Send(c.(*core.TCPConnection).UserData.(string), false)
		}
	}
	addr := start(t, g)
	seen := map[string]int{}
	for i := 0; i < 6; i++ {
		c := dial(t, addr)
		fmt.Fprintf(c, "hello\n")
		got := readLine(t, bufio.NewReader(c))
		seen[got]++
		if got == "own" { // its own, smaller package limit
			fmt.Fprintf(c, "far too long for ten bytes\n")
			expectCleanEOF(t, c, 10*time.Second)
		}
	}
	if seen["own"] != 3 || seen["goer"] != 3 {
		t.Fatalf("replies %v", seen)
	}
}

// SendFrom streams a reader bigger than the send buffer without holding it
// in memory, and data sent after it follows it.
func TestSendFrom(t *testing.T) {
	const size = 8 << 20
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.MaxSendBufferSize = 64 << 10
	// The flush after Close must not be cut by CloseTimeout on a loaded
	// machine (-race moves a few MB/s): any cut within the read deadline is
	// then data dropped early, which expectCleanEOF reports.
	g.CloseTimeout = time.Minute
	g.OnMessage = func(c core.Connection, d []byte) {
		tc := c.(*core.TCPConnection)
		if err := tc.SendFrom(io.LimitReader(zeros{}, size)); err != nil {
			t.Error(err)
		}
		tc.Send("END", true)
		tc.Close("")
	}
	addr := start(t, g)
	c := dial(t, addr)
	c.Write([]byte("go"))
	got := expectCleanEOF(t, c, 30*time.Second)
	if len(got) != size+3 || string(got[size:]) != "END" || bytes.IndexByte(got[:size], 1) >= 0 {
		t.Fatalf("got %d bytes ending %q", len(got), got[max(0, len(got)-3):])
	}
}

// What is sent behind a stream is queued while the writer holds a chunk of
// the stream that the peer has not taken yet: the read-ahead is not the
// user's queue, and must not make Send report a full buffer.
func TestSendBehindStalledStream(t *testing.T) {
	const size = 8 << 20
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.MaxSendBufferSize = 64 << 10
	g.CloseTimeout = time.Minute // as in TestSendFrom
	sent := make(chan error, 1)
	g.OnMessage = func(c core.Connection, d []byte) {
		tc := c.(*core.TCPConnection)
		if err := tc.SendFrom(io.LimitReader(zeros{}, size)); err != nil {
			t.Error(err)
		}
		go func() {
			time.Sleep(200 * time.Millisecond) // the peer reads nothing: the writer holds a chunk
			err := tc.Send("END", true)
			tc.Close("")
			sent <- err
		}()
	}
	addr := start(t, g)
	c := dial(t, addr)
	c.Write([]byte("go"))
	if err := <-sent; err != nil {
		t.Fatalf("send behind the stream: %v", err)
	}
	got := expectCleanEOF(t, c, 30*time.Second)
	if len(got) != size+3 || string(got[size:]) != "END" {
		t.Fatalf("got %d bytes ending %q", len(got), got[max(0, len(got)-3):])
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "goes.sock")
	g := core.NewGoer(path, lines{}, "unix")
	g.OnMessage = func(c core.Connection, d []byte) { c.Send("unix:"+string(d), false) }
	start(t, g)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "hi\n")
	if got := readLine(t, bufio.NewReader(c)); got != "unix:hi" {
		t.Fatalf("got %q", got)
	}
}

func TestIPv6Loopback(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	ln.Close()
	g := core.NewGoer("[::1]:0", lines{}, "tcp6")
	g.OnMessage = func(c core.Connection, d []byte) { c.Send(c.GetRemoteIP(), false) }
	addr := start(t, g)
	c := dial(t, addr)
	fmt.Fprintf(c, "hi\n")
	if got := readLine(t, bufio.NewReader(c)); got != "::1" {
		t.Fatalf("got %q", got)
	}
}

func TestTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	g := core.NewGoer("127.0.0.1:0", lines{}, "ssl")
	g.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	g.OnMessage = func(c core.Connection, d []byte) {
		state := c.(*core.TCPConnection).Socket().(*tls.Conn).ConnectionState()
		c.Send(fmt.Sprintf("%s over %s", d, tls.VersionName(state.Version)), false)
	}
	addr := start(t, g)
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "hi\n")
	if got := readLine(t, bufio.NewReader(c)); !strings.HasPrefix(got, "hi over TLS 1.") {
		t.Fatalf("got %q", got)
	}

	// A client that never finishes its handshake does not hold up Stop.
	raw := dial(t, addr)
	raw.Write([]byte{0x16, 0x03, 0x01})
}

func TestTLSFromFiles(t *testing.T) {
	cert, pool := selfSigned(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, certFile, "CERTIFICATE", cert.Certificate[0])
	der, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, keyFile, "EC PRIVATE KEY", der)
	g := core.NewGoer("127.0.0.1:0", lines{}, "ssl")
	g.CertFile, g.KeyFile = certFile, keyFile
	g.OnMessage = func(c core.Connection, d []byte) { c.SendBytes(d, false) }
	addr := start(t, g)
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "file\n")
	if got := readLine(t, bufio.NewReader(c)); got != "file" {
		t.Fatalf("got %q", got)
	}

	bad := core.NewGoer("127.0.0.1:0", nil, "ssl")
	bad.Logger = quietLogger()
	if err := bad.Start(); err == nil {
		bad.Stop()
		t.Fatal("ssl without a certificate started")
	}
}

func TestUnknownTransport(t *testing.T) {
	for _, tc := range []struct{ transport, want string }{
		{"udp", "transport/udp"},
		{"carrier-pigeon", "known:"},
	} {
		g := core.NewGoer("127.0.0.1:0", nil, tc.transport)
		g.Logger = quietLogger()
		err := g.Start()
		if !errors.Is(err, core.ErrUnknownTransport) || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: %v", tc.transport, err)
		}
	}
}

func TestReusePort(t *testing.T) {
	a := core.NewGoer("127.0.0.1:0", nil, "tcp")
	a.ReusePort = true
	addr := start(t, a)
	b := core.NewGoer(addr, nil, "tcp")
	b.ReusePort = true
	start(t, b)
}

func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("-----BEGIN " + kind + "-----\n")
	enc := []byte(base64.StdEncoding.EncodeToString(der))
	for len(enc) > 64 {
		b.Write(enc[:64])
		b.WriteByte('\n')
		enc = enc[64:]
	}
	b.Write(enc)
	b.WriteString("\n-----END " + kind + "-----\n")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A callback switches the protocol; bytes after the switch, even in the same
// read, are framed by the new one.
func TestSetProtocolMidStream(t *testing.T) {
	got := make(chan string, 4)
	g := core.NewGoer("127.0.0.1:0", lines{}, "tcp")
	g.OnMessage = func(c core.Connection, d []byte) {
		got <- string(d)
		if string(d) == "upgrade" {
			c.(*core.TCPConnection).SetProtocol(frames{})
			c.Send("switched", false) // framed by the new protocol
		}
	}
	addr := start(t, g)
	c := dial(t, addr)
	framed, _ := frames{}.Encode(nil, nil, []byte("a frame\nwith a newline"))
	c.Write(append([]byte("upgrade\n"), framed...))
	for _, want := range []string{"upgrade", "a frame\nwith a newline"} {
		select {
		case s := <-got:
			if s != want {
				t.Fatalf("got %q, want %q", s, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %q", want)
		}
	}
	reply := make([]byte, 12)
	if _, err := io.ReadFull(c, reply); err != nil || string(reply[4:]) != "switched" {
		t.Fatalf("reply %q %v", reply, err)
	}
}

// slowReader blocks in Read until released and counts its Close calls.
type slowReader struct {
	started chan struct{}
	release chan struct{}
	closes  atomic.Int32
	once    sync.Once
}

func (r *slowReader) Read(p []byte) (int, error) {
	r.once.Do(func() { close(r.started) })
	<-r.release
	return 0, io.EOF
}

func (r *slowReader) Close() error {
	r.closes.Add(1)
	return nil
}

// A connection destroyed while its writer reads a SendFrom reader closes
// that reader exactly once.
func TestSendFromDestroyedWhileReading(t *testing.T) {
	r := &slowReader{started: make(chan struct{}), release: make(chan struct{})}
	conns := make(chan *core.TCPConnection, 1)
	g := core.NewGoer("127.0.0.1:0", nil, "tcp")
	g.OnConnect = func(c core.Connection) { conns <- c.(*core.TCPConnection) }
	addr := start(t, g)
	dial(t, addr)
	c := <-conns
	if err := c.SendFrom(r); err != nil {
		t.Fatal(err)
	}
	<-r.started
	c.Destroy()
	close(r.release)
	waitFor(t, "the reader to be closed", func() bool { return r.closes.Load() >= 1 })
	time.Sleep(50 * time.Millisecond)
	if n := r.closes.Load(); n != 1 {
		t.Fatalf("reader closed %d times", n)
	}
}
