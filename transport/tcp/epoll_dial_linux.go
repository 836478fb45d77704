package tcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"

	"github.com/shunhui19/goes/core"
)

// Client connections on the epoll engine. A socket that core.AsyncConnection
// dials is made non-blocking, connected (connect returns EINPROGRESS) and
// put into an event loop's epoll set for EPOLLOUT; the loop takes it out
// again when the connect completes (EPOLLOUT, or EPOLLERR and EPOLLHUP for
// a refusal) and wakes the dialing goroutine, which reads SO_ERROR. The
// connect timeout is the dialing context's deadline. Once core has made the
// connection's state machine, Serve puts the socket back into the loop's
// set for EPOLLIN, and from then on the loop serves it exactly like an
// accepted connection: the same reads, delivery, backpressure, writes and
// close, and an idle client holds no goroutine and no buffer.
//
// The loops of client connections are an engine of their own, shared by
// every client connection of the process whatever Goer it belongs to (a
// Goer's engine ends when the Goer stops, its clients may not): so a
// program that only dials has loops too. The engine starts with the first
// client connection, with GOMAXPROCS loops like a Goer's, and stops once
// its last client connection has ended; the next connect starts a new one.
// Its goroutines thus never outlive the connections.
//
// TLS client connections stay on the goroutine engine, as accepted TLS
// connections do: the handshake and the records need a reader of their own.

// clientEngine is the engine of the process's client connections; nil
// while none is open. The read buffers of its loops (64 KiB each) outlive
// it for the next one: a client that reconnects again and again does not
// make them anew each time.
var clientEngine struct {
	mu   sync.Mutex
	e    *epollEngine
	bufs [][]byte
}

// acquireClients returns the client engine, started if need be, counting
// one more connection on it.
func acquireClients() (*epollEngine, error) {
	clientEngine.mu.Lock()
	defer clientEngine.mu.Unlock()
	if e := clientEngine.e; e != nil {
		e.clients++
		return e, nil
	}
	e, err := newClientEngine(clientEngine.bufs)
	if err != nil {
		return nil, err
	}
	clientEngine.bufs = nil
	e.clients = 1
	clientEngine.e = e
	return e, nil
}

// releaseClient counts a client connection's end; the last one stops the
// engine. It may run on one of the engine's own goroutines, so the engine
// stops on a goroutine of its own.
func (e *epollEngine) releaseClient() {
	clientEngine.mu.Lock()
	e.clients--
	last := e.clients == 0
	if last && clientEngine.e == e {
		clientEngine.e = nil
	}
	clientEngine.mu.Unlock()
	if last {
		go e.stopClients()
	}
}

// stopClients stops the client engine and keeps its loops' read buffers.
func (e *epollEngine) stopClients() {
	e.stopLoops()
	e.bufMu.Lock()
	bufs := e.loopBufs
	e.loopBufs = nil
	e.bufMu.Unlock()
	clientEngine.mu.Lock()
	if room := runtime.GOMAXPROCS(0) - len(clientEngine.bufs); room > 0 {
		clientEngine.bufs = append(clientEngine.bufs, bufs[:min(room, len(bufs))]...)
	}
	clientEngine.mu.Unlock()
}

// newClientEngine starts a client engine whose loops read into bufs
// (more are made when they are too few).
func newClientEngine(bufs [][]byte) (*epollEngine, error) {
	e := &epollEngine{
		lfd: -1, client: true, loopBufs: bufs,
		work: make(chan *econn), quit: make(chan struct{}), wakeWD: make(chan struct{}, 1),
	}
	for range runtime.GOMAXPROCS(0) {
		l, err := newLoop(e)
		if err != nil {
			for _, l := range e.loops {
				l.close()
			}
			return nil, err
		}
		l.unlistened = true
		e.loops = append(e.loops, l)
	}
	for _, l := range e.loops {
		e.startLoop(l)
	}
	e.open.Add(1)
	go e.watch()
	return e, nil
}

// releaseClient counts the end of c, a client connection, once its
// Closed has run, unless it left the engine when it was closed unserved.
func (c *econn) releaseClient() {
	e := c.loop.eng
	if !e.client {
		return
	}
	c.fdMu.RLock()
	dropped := c.dropped
	c.fdMu.RUnlock()
	if !dropped {
		e.releaseClient()
	}
}

// pickLoop returns the loop for the next client connection, in turn.
func (e *epollEngine) pickLoop() *eloop {
	return e.loops[int(e.next.Add(1)-1)%len(e.loops)]
}

// unixClient is a Unix client connection: its peer's address is the path
// it dialed.
type unixClient struct {
	*econn
	raddr *net.UnixAddr
}

func (u unixClient) RemoteAddr() net.Addr { return u.raddr }
func (u unixClient) LocalAddr() net.Addr  { return &net.UnixAddr{Net: "unix"} }

// dialEpoll connects to address over network (tcp, tcp4, tcp6 or unix)
// on a loop of the client engine, from local when it is not nil (a
// *net.TCPAddr, or a *net.UnixAddr for unix).
func dialEpoll(ctx context.Context, network, address string, local net.Addr) (core.Socket, error) {
	if network == "unix" {
		sa := &syscall.SockaddrUnix{Name: address}
		var from syscall.Sockaddr
		if la, ok := local.(*net.UnixAddr); ok {
			from = &syscall.SockaddrUnix{Name: la.Name}
		}
		c, err := connectOnLoop(ctx, syscall.AF_UNIX, sa, from)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Source: local, Addr: &net.UnixAddr{Name: address, Net: "unix"}, Err: err}
		}
		return unixClient{c, &net.UnixAddr{Name: address, Net: "unix"}}, nil
	}
	addrs, err := resolve(ctx, network, address)
	if err != nil {
		return nil, err
	}
	var first error
	for _, ap := range addrs {
		family, sa := sockaddr(ap)
		from, err := bindSockaddr(local, ap)
		if err == nil {
			var c *econn
			if c, err = connectOnLoop(ctx, family, sa, from); err == nil {
				c.setPeerAddr(ap)
				return c, nil
			}
		}
		if first == nil {
			first = &net.OpError{Op: "dial", Net: network, Source: local, Addr: net.TCPAddrFromAddrPort(ap), Err: err}
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// bindSockaddr is the local address to bind for a connect to peer: nil
// when local is nil, an error when its family is not the peer's.
func bindSockaddr(local net.Addr, peer netip.AddrPort) (syscall.Sockaddr, error) {
	la, ok := local.(*net.TCPAddr)
	if !ok || la == nil {
		return nil, nil
	}
	ip, _ := netip.AddrFromSlice(la.IP)
	ip = ip.Unmap().WithZone(la.Zone)
	switch {
	case !ip.IsValid() && peer.Addr().Is4():
		ip = netip.IPv4Unspecified()
	case !ip.IsValid():
		ip = netip.IPv6Unspecified()
	case ip.Is4() != peer.Addr().Is4():
		return nil, &net.AddrError{Err: "no suitable address found", Addr: la.String()} // as net.Dialer says it
	}
	_, sa := sockaddr(netip.AddrPortFrom(ip, uint16(la.Port)))
	return sa, nil
}

// resolve returns the addresses to try for a host:port, IPv4 first (as
// the loopback and most servers listen on it).
func resolve(ctx context.Context, network, address string) ([]netip.AddrPort, error) {
	host, service, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := net.DefaultResolver.LookupPort(ctx, network, service)
	if err != nil {
		return nil, err
	}
	want := "ip"
	switch network {
	case "tcp4":
		want = "ip4"
	case "tcp6":
		want = "ip6"
	}
	var ips []netip.Addr
	if host == "" {
		ips = []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}
		if want == "ip6" {
			ips = []netip.Addr{netip.IPv6Loopback()}
		}
	} else if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = net.DefaultResolver.LookupNetIP(ctx, want, host); err != nil {
		return nil, err
	}
	var v4, v6 []netip.AddrPort
	for _, ip := range ips {
		ip = ip.Unmap()
		switch {
		case ip.Is4() && want != "ip6":
			v4 = append(v4, netip.AddrPortFrom(ip, uint16(port)))
		case ip.Is6() && want != "ip4":
			v6 = append(v6, netip.AddrPortFrom(ip, uint16(port)))
		}
	}
	if all := append(v4, v6...); len(all) > 0 {
		return all, nil
	}
	return nil, &net.AddrError{Err: "no suitable address found", Addr: address}
}

func sockaddr(ap netip.AddrPort) (int, syscall.Sockaddr) {
	ip := ap.Addr()
	if ip.Is4() {
		return syscall.AF_INET, &syscall.SockaddrInet4{Addr: ip.As4(), Port: int(ap.Port())}
	}
	sa := &syscall.SockaddrInet6{Addr: ip.As16(), Port: int(ap.Port())}
	if z := ip.Zone(); z != "" {
		if n, err := strconv.Atoi(z); err == nil {
			sa.ZoneId = uint32(n)
		} else if ifi, err := net.InterfaceByName(z); err == nil {
			sa.ZoneId = uint32(ifi.Index)
		}
	}
	return syscall.AF_INET6, sa
}

// setPeerAddr records the peer's address, as setPeer does for an accepted
// connection.
func (c *econn) setPeerAddr(ap netip.AddrPort) {
	ip := ap.Addr()
	c.peer, c.port, c.peer4 = ip.As16(), ap.Port(), ip.Is4()
	if z := ip.Zone(); z != "" {
		if n, err := strconv.Atoi(z); err == nil {
			c.scope = uint32(n)
		}
	}
}

// errNoEngine: a connect that no client engine could take.
var errNoEngine = errors.New("goes: no event loop for the client connection")

// connectOnLoop makes a non-blocking socket, binds it to from (unless
// nil), connects it to sa and, while
// the connect is in progress, waits for it on a loop of the client engine,
// bounded by ctx. The connection it returns counts on the engine until it
// ends.
func connectOnLoop(ctx context.Context, family int, sa, from syscall.Sockaddr) (*econn, error) {
	fd, inProgress, err := startConnect(family, sa, from)
	if err != nil {
		return nil, err
	}
	e, err := acquireClients()
	if err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("%w: %w", errNoEngine, err)
	}
	// running: until Serve, nothing is delivered, and a close meanwhile
	// leaves the connection's end to Serve.
	c := &econn{fd: int32(fd), loop: e.pickLoop(), running: true}
	if inProgress {
		if err := c.awaitConnect(ctx); err != nil {
			syscall.Close(fd)
			e.releaseClient()
			return nil, err
		}
	}
	return c, nil
}

// startConnect makes a non-blocking socket, binds it to from (unless nil)
// and connects it to sa. Over
// the loopback the kernel has mostly answered (accepted or refused) when
// connect returns EINPROGRESS, so a second connect asks for the outcome:
// a refusal is reported without waiting for a loop. inProgress: the
// connect goes on; wait for EPOLLOUT.
func startConnect(family int, sa, from syscall.Sockaddr) (fd int, inProgress bool, err error) {
	fd, err = syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, false, os.NewSyscallError("socket", err)
	}
	if family != syscall.AF_UNIX {
		setAcceptedOptions(fd) // what net.Dialer sets: no delay, keep-alive
	}
	if from != nil {
		if family != syscall.AF_UNIX {
			bindNoPort(fd)
		}
		if err := syscall.Bind(fd, from); err != nil {
			syscall.Close(fd)
			return -1, false, os.NewSyscallError("bind", err)
		}
	}
	for try := 0; ; try++ {
		err = syscall.Connect(fd, sa)
		switch err {
		case nil, syscall.EISCONN:
			return fd, false, nil
		case syscall.EINTR:
			continue // the connect goes on: the next call tells how it is doing
		case syscall.EINPROGRESS, syscall.EALREADY:
			if try == 0 {
				continue
			}
			return fd, true, nil
		}
		syscall.Close(fd)
		return -1, false, os.NewSyscallError("connect", err)
	}
}

// awaitConnect waits for the connect in progress on c's descriptor: the
// loop sees EPOLLOUT (or an error) and hands the socket back (connected),
// or ctx ends first and the socket is taken back from the loop.
func (c *econn) awaitConnect(ctx context.Context) error {
	l, fd := c.loop, int(c.fd)
	done := make(chan struct{}, 1)
	c.wready = done
	slot := l.eng.conns.slot(fd, true)
	slot.Store(c) // the loop finds it by its descriptor
	ev := syscall.EpollEvent{Events: syscall.EPOLLOUT, Fd: c.fd}
	if err := epollCtl(l.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		slot.CompareAndSwap(c, nil)
		return os.NewSyscallError("epoll_ctl", err)
	}
	var waitErr error
	select {
	case <-done:
	case <-ctx.Done():
		if slot.CompareAndSwap(c, nil) { // the loop has not seen the connect: it never will
			epollCtl(l.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
			waitErr = ctx.Err()
		} else {
			<-done // the loop is taking it out of its set
		}
	}
	c.wready = nil
	if waitErr != nil {
		return waitErr
	}
	soErr, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ERROR)
	if err != nil {
		return os.NewSyscallError("getsockopt", err)
	}
	if soErr != 0 {
		return os.NewSyscallError("connect", syscall.Errno(soErr))
	}
	return nil
}

// connected runs on the loop for an event on a socket whose connect was in
// progress: it takes the socket out of the loop and wakes the dialer.
func (l *eloop) connected(c *econn) {
	fd := int(c.fd)
	if s := l.eng.conns.slot(fd, false); s == nil || !s.CompareAndSwap(c, nil) {
		return // the dialer gave up on it (its timeout)
	}
	epollCtl(l.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	c.wready <- struct{}{}
}

// serveClient has the loop serve a connected client socket from now on:
// OnConnect runs here, on the dialing goroutine, and what the loop reads
// meanwhile waits for it.
func (c *econn) serveClient(s *core.Stream) {
	c.lockEvents()
	c.s = s        // under fdMu: closeFD asks whether it was served
	if !c.closed { // core may have closed it already (Close while connecting)
		c.reading = true
		c.loop.eng.conns.set(int(c.fd), c) // publishes c.s to the loop
		ev := syscall.EpollEvent{Events: c.maskLocked(), Fd: c.fd}
		if err := epollCtl(c.loop.epfd, syscall.EPOLL_CTL_ADD, int(c.fd), &ev); err != nil {
			c.unlockEvents()
			c.closeFD()
			c.finish(nil, os.NewSyscallError("epoll_ctl", err))
			c.work(nil, nil)
			return
		}
	}
	c.unlockEvents()
	c.work(nil, nil)
}

// clientSocket returns the loop's socket of a client connection dialed by
// dialEpoll, or nil.
func clientSocket(s core.Socket) *econn {
	switch c := s.(type) {
	case *econn:
		return c
	case unixClient:
		return c.econn
	}
	return nil
}

// serveOnLoop serves s on its loop if the epoll engine dialed it.
func serveOnLoop(s *core.Stream) bool {
	c := clientSocket(s.Conn().Socket())
	if c == nil {
		return false
	}
	c.serveClient(s)
	return true
}

// clientLoops is the number of the client engine's loops, 0 while it is
// stopped.
func clientLoops() int {
	clientEngine.mu.Lock()
	defer clientEngine.mu.Unlock()
	if clientEngine.e == nil {
		return 0
	}
	return len(clientEngine.e.loops)
}
