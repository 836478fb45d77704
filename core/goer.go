package core

import (
	"crypto/tls"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shunhui19/goes/core/timer"
)

// Defaults applied by NewGoer and, for a zero Goer, by Start.
const (
	DefaultMaxSendBufferSize = 1 << 20  // 1 MiB
	DefaultMaxPackageSize    = 10 << 20 // 10 MiB
	DefaultGracefulTimeout   = 30 * time.Second
	DefaultCloseTimeout      = 5 * time.Second
	DefaultTransport         = "tcp"
)

// Goer is a server: it listens on Address with a Transport, frames bytes with
// a Protocol and hands each connection's events to the callbacks.
//
// Set fields before Start or RunAll; they must not change afterwards.
type Goer struct {
	// Name shows in logs and status output; defaults to Transport://Address.
	Name string
	// Address to listen on: "127.0.0.1:8080", "[::1]:8080", "/tmp/app.sock".
	Address string
	// Transport: tcp, tcp4, tcp6, unix, ssl (or tls), udp, udp4, udp6,
	// unixgram. Empty means tcp. The module that serves it must be linked in
	// (transport/tcp or transport/udp).
	Transport string
	// Protocol frames the stream; nil means raw: every read is a message.
	Protocol Protocol

	// Daemon runs the process in the background, like "start -d".
	Daemon bool
	// StdoutFile receives stdout and stderr in daemon mode (default /dev/null).
	StdoutFile string
	// PidFile is where the process id is kept; the default is derived from
	// the program's path and working directory.
	PidFile string
	// LogFile, when set, receives the log in addition to stderr.
	LogFile string
	// Logger overrides the default logger.
	Logger *slog.Logger

	// Connections holds every open stream connection. NewGoer sets a ConnStore.
	Connections CStore

	// OnStart runs once the Goer listens, before any connection is served.
	// If it panics the Goer does not start: Start returns ErrStartPanic,
	// and start and reload fail with the panic's message.
	OnStart func(g *Goer)
	// OnConnect runs when a stream connection is accepted (not for UDP).
	OnConnect func(c Connection)
	// OnMessage runs for every decoded message. data is valid only until
	// OnMessage returns: copy it to keep it.
	OnMessage func(c Connection, data []byte)
	// OnClose runs exactly once when a stream connection ends.
	OnClose func(c Connection)
	// OnError reports a connection's errors with an ErrCode* code.
	OnError func(c Connection, code int, msg string)
	// OnBufferFull runs once when a send queue reaches MaxSendBufferSize.
	OnBufferFull func(c Connection)
	// OnBufferDrain runs when a full send queue has been written out.
	OnBufferDrain func(c Connection)
	// OnStop runs when the Goer stops, after it stopped accepting.
	OnStop func(g *Goer)
	// OnReload runs in the old process when a reload begins.
	OnReload func(g *Goer)
	// OnGracefulStop runs on every open stream connection when a graceful
	// stop begins (stop -g, SIGQUIT, GracefulStop, or the old process of a
	// reload), on the connection's lane like its other callbacks, before
	// the protocol's own drain (see Drainer). It is the place to tell the
	// connection's peer to go elsewhere (the new process of a reload takes
	// new connections) or to close it: a connection nobody closes is served
	// on until it ends or GracefulTimeout passes.
	OnGracefulStop func(c Connection)

	// MaxSendBufferSize is the default per-connection send queue limit
	// (DefaultMaxSendBufferSize when zero).
	MaxSendBufferSize int
	// MaxPackageSize is the default per-connection package limit
	// (DefaultMaxPackageSize when zero).
	MaxPackageSize int
	// SendHighWater is where backpressure begins: a stream connection whose
	// send queue holds this many bytes, or a SendFrom reader, stops being
	// read (its buffered packages wait too) until the queue has been
	// written out; a peer that does not read its answers is thus slowed
	// down by TCP instead of losing them. Answers to the packages read
	// before the pause still fit: a Send is accepted whole while less than
	// MaxSendBufferSize is queued. Values above MaxSendBufferSize are
	// capped at it.
	//
	// HTTP and WebSocket connections always pause (see Paced): at this
	// mark, or at half of MaxSendBufferSize when it is zero or negative.
	// Raw, text, frame and users' protocols pause only when it is set
	// (positive); by default they read on and sends past
	// MaxSendBufferSize are refused. Do not set it on a Goer whose
	// connections are piped to others (Pipe pauses the source instead):
	// a proxied connection that stopped reading its own peer could wait
	// for that peer forever.
	SendHighWater int
	// MaxConnections refuses connections beyond this many open ones (0: no limit).
	MaxConnections int
	// IdleTimeout closes stream connections that received nothing for this
	// long (0: never). Checked by the timing wheel about once a second.
	// Time a connection spends paused is not the peer's silence: one
	// paused by PauseRecv (or by a Pipe whose destination is full) is
	// never idle, and its clock starts again when it is resumed; one
	// paused for its full send queue (SendHighWater) is idle when none of
	// the queue could be written for this long: its peer reads nothing.
	// (The kernel's send buffer, up to a few MiB, lets a write through
	// only once the peer has read a good part of it: a peer that reads
	// less than that per IdleTimeout counts as one that reads nothing.)
	IdleTimeout time.Duration
	// GracefulTimeout bounds how long a graceful stop or reload waits for
	// connections to end (DefaultGracefulTimeout when zero).
	GracefulTimeout time.Duration
	// CloseTimeout bounds how long Close waits to flush queued data before the
	// socket is closed anyway (DefaultCloseTimeout when zero).
	CloseTimeout time.Duration

	// TLSConfig, or CertFile and KeyFile, configure the ssl transport.
	TLSConfig *tls.Config
	CertFile  string
	KeyFile   string
	// ReusePort sets SO_REUSEPORT on the listening socket.
	ReusePort bool
	// Engine picks how stream connections are served: "epoll" (Linux: a
	// few event loops own every socket, and an idle connection holds no
	// goroutine and no buffer) or "goroutine" (one goroutine reads each
	// connection; every platform, and TLS connections on any Goer). Empty
	// means the GOES_ENGINE environment variable, else the transport's
	// default: epoll on Linux, goroutine elsewhere.
	Engine string

	log     *slog.Logger
	logFile *os.File
	// timer is read without mu by connections (their close deadline,
	// the drain's second look); it is set under mu.
	timer    atomic.Pointer[timer.Timer]
	ownTimer bool

	// clients serves the AsyncConnections whose Server this is; parent:
	// for such a Goer, that Server (see clientGoer).
	clients atomic.Pointer[Goer]
	parent  *Goer
	// live lists the AsyncConnections whose Server this is while they
	// connect or are connected (client_live.go): Stop closes them.
	liveMu sync.Mutex
	live   liveClients

	mu       sync.Mutex
	state    int32 // goerIdle, goerRunning, goerStopping, goerStopped
	listener Listener
	done     chan struct{}
	sweepID  timer.TaskID
	conns    sync.WaitGroup

	served    chan struct{}
	started   time.Time
	inherited *os.File
	open      atomic.Int64 // open stream connections
	draining  atomic.Bool  // a graceful stop waits for the connections
	lastWarn  atomic.Int64

	udpMu     sync.Mutex
	udpPeers  map[string]*udpPeer
	udpQueued int

	stats Stats
}

// Stats are a Goer's counters, safe to read at any time.
type Stats struct {
	Accepted     atomic.Int64 // connections accepted
	Rejected     atomic.Int64 // refused by MaxConnections
	Requests     atomic.Int64 // messages delivered to OnMessage
	SendFailures atomic.Int64 // sends refused
	Dropped      atomic.Int64 // datagrams dropped (bad, too large, queue full)
	BytesRead    atomic.Int64
	BytesWritten atomic.Int64
	Closed       atomic.Int64 // stream connections ended
	Sent         atomic.Int64 // messages queued by Send and SendBytes
	BufferFull   atomic.Int64 // times a send queue reached its MaxSendBufferSize
	Panics       atomic.Int64 // callback panics recovered

	errs [ErrCodeIO + 1]atomic.Int64 // OnError reports by code; 0 counts other codes
}

const (
	goerIdle int32 = iota
	goerRunning
	goerStopping
	goerStopped
)

// NewGoer returns a Goer for address, speaking protocol (nil: raw bytes) over
// transport ("" : tcp), with the defaults filled in.
func NewGoer(address string, protocol Protocol, transport string) *Goer {
	g := &Goer{Address: address, Protocol: protocol, Transport: transport}
	g.setDefaults()
	return g
}

func (g *Goer) setDefaults() {
	if g.Transport == "" {
		g.Transport = DefaultTransport
	}
	if g.Engine == "" {
		g.Engine = os.Getenv("GOES_ENGINE")
	}
	if g.Connections == nil {
		g.Connections = NewConnStore()
	}
	if g.MaxSendBufferSize <= 0 {
		g.MaxSendBufferSize = DefaultMaxSendBufferSize
	}
	if g.MaxPackageSize <= 0 {
		g.MaxPackageSize = DefaultMaxPackageSize
	}
	if g.GracefulTimeout <= 0 {
		g.GracefulTimeout = DefaultGracefulTimeout
	}
	if g.CloseTimeout <= 0 {
		g.CloseTimeout = DefaultCloseTimeout
	}
}

// Stats returns the Goer's counters.
func (g *Goer) Stats() *Stats { return &g.stats }
