package core

import (
	"errors"
	"io"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shunhui19/goes/core/timer"
)

// TCPConnection is one stream connection (TCP, Unix or TLS): the state
// machine that frames bytes through the protocol, queues sends, keeps the
// limits, runs the callbacks and counts.
//
// The exported fields may be set from the connection's own callbacks
// (OnConnect is the usual place); other goroutines must not write them.
// Methods are safe for concurrent use unless they say otherwise.
type TCPConnection struct {
	// ID is unique among the connections of this process.
	ID int
	// Protocol frames this connection; it starts as the Goer's.
	Protocol Protocol
	// MaxSendBufferSize limits the bytes queued for sending.
	MaxSendBufferSize int
	// MaxPackageSize limits the size of one incoming package.
	MaxPackageSize int
	// Connections is the Goer's connection store.
	Connections CStore

	// Per-connection callbacks; when set they replace the Goer's.
	OnMessage     func(c Connection, data []byte)
	OnClose       func(c Connection)
	OnError       func(c Connection, code int, msg string)
	OnBufferFull  func(c Connection)
	OnBufferDrain func(c Connection)

	// UserData is the user's own value for this connection (a user id, a
	// session). core never touches it.
	UserData any

	goer *Goer
	sock Socket
	ctx  atomic.Pointer[ctxBox]

	// lane: the callbacks of one connection run one at a time
	laneMu sync.Mutex
	evMu   sync.Mutex

	// receive side, owned by the lane holder
	recv []byte

	// send side, guarded by mu
	mu  sync.Mutex
	out []byte // queued, not yet handed to the socket

	// What few connections need (see connExtra); nil until then.
	extra atomic.Pointer[connExtra]
	// What an AsyncConnection or a Pipe attaches (see connLink); nil for
	// an accepted connection that is not piped.
	link atomic.Pointer[connLink]

	bytesRead    atomic.Int64
	bytesWritten atomic.Int64
	lastActive   atomic.Int64 // unix nanoseconds of the last read, pause, resume, or write while paused by the queue
	created      int64        // unix nanoseconds

	// The small fields, together so that they pad once.
	pkgLen  int32        // receive side: the length of the package being assembled; < 0: see frame
	recvLen atomic.Int32 // len(recv) (at most MaxInt32), for other goroutines
	maxSend atomic.Int32 // MaxSendBufferSize, clamped, for other goroutines
	// pause is the state word, written under mu: the reasons the receive
	// side is paused (pausedByUser, pausedByQueue), the connection's
	// state (connOpen, connClosing, connClosed: see connState) and a
	// count of the pauses begun (in units of pauseGen).
	pause atomic.Uint32
	// laneDone: the lane ran its last callback (evMu).
	laneDone bool
	// batch: several packages of one read are being delivered (lane).
	batch bool
	// writing: the queue is being written: by a flusher goroutine, or by
	// the engine when the socket is writable again (awaitOut) (mu).
	writing bool
	// awaitOut: the engine was asked to call Stream.Writable (mu).
	awaitOut bool
	// full: OnBufferFull fired; OnBufferDrain pending (mu).
	full bool
	// shut: the write side was shut down (mu).
	shut bool
	// holdWrites queues sends while a batch of packages is delivered; the
	// lane writes them together afterwards (mu).
	holdWrites bool
	// opened: OnConnect has run (lane).
	opened bool
}

// The reasons in the pause word (TCPConnection.pause). Each is lifted on
// its own: a user's ResumeRecv does not undo a pause for a full queue, nor
// a drained queue the user's PauseRecv.
const (
	pausedByUser  uint32 = 1 << iota // PauseRecv
	pausedByQueue                    // the send queue passed its high-water mark
	stateLow                         // the state's two bits
	stateHigh
	pauseGen // the unit of the count of pauses begun

	pausedMask = pausedByUser | pausedByQueue
	stateMask  = stateLow | stateHigh
	stateShift = 2
)

// connState returns connOpen, connClosing or connClosed; it takes no lock.
func (c *TCPConnection) connState() int32 {
	return int32(c.pause.Load() & stateMask >> stateShift)
}

// setStateLocked moves the connection to state s; c.mu is held.
func (c *TCPConnection) setStateLocked(s int32) {
	c.pause.Store(c.pause.Load()&^stateMask | uint32(s)<<stateShift)
}

type ctxBox struct{ v any }

// connExtra is the part of a connection that most never use: the state of a
// flusher goroutine (the kernel did not take a write at once), SendFrom
// readers, a close in progress, a pause, and events posted to the lane. An
// idle connection that was answered at once has none, which keeps it small;
// the first use makes it, and it stays.
type connExtra struct {
	// guarded by TCPConnection.mu
	spare     []byte        // the flusher's other half of the double buffer
	inflight  int           // bytes being written by the flusher
	streamed  int           // of out+inflight, bytes read from a SendFrom reader
	streams   []*outPart    // SendFrom readers and the bytes queued behind them
	drained   chan struct{} // closed when the queue empties or the socket is destroyed
	closeTask timer.TaskID
	resumed   chan struct{} // closed and replaced by ResumeRecv
	// notifyResume: the engine waits for the resume without a goroutine
	// (Stream.NotifyResume): the socket's Resumed is called once it comes.
	notifyResume bool
	// Pipe's low-water notice: the sources whose piped sends filled the
	// queue; once it holds less than half the limit, they read on.
	low lowWaiters
	// A half-close through a Pipe (halfclose.go): peerDone: c's peer has
	// sent its EOF; writeClosed: c's write side shuts once its queue is
	// written; shutDone is closed once it has (or c is destroyed).
	peerDone    bool
	writeClosed bool
	shutDone    chan struct{}

	// guarded by TCPConnection.evMu
	events []laneEvent

	// on the lane
	drain uint8 // drainNone, drainEarly, drainTold
	// drainedEarly: the queue drained before OnConnect (a client's sends
	// queued while connecting); OnBufferDrain follows OnConnect.
	drainedEarly bool
}

// x returns c's extra part, making it on first use. Any goroutine may call
// it; the fields are guarded as connExtra says.
func (c *TCPConnection) x() *connExtra {
	if x := c.extra.Load(); x != nil {
		return x
	}
	x := new(connExtra)
	if c.extra.CompareAndSwap(nil, x) {
		return x
	}
	return c.extra.Load()
}

// streamsLocked returns the queued SendFrom readers; c.mu is held.
func (c *TCPConnection) streamsLocked() []*outPart {
	if x := c.extra.Load(); x != nil {
		return x.streams
	}
	return nil
}

// idleLocked reports whether nothing is queued or being written; c.mu is held.
func (c *TCPConnection) idleLocked() bool {
	return !c.writing && len(c.out) == 0 && len(c.streamsLocked()) == 0
}

const (
	connOpen int32 = iota
	connClosing
	connClosed
)

// Connection states as reported by State.
const (
	StateOpen    = "ESTABLISHED"
	StateClosing = "CLOSING"
	StateClosed  = "CLOSED"
)

var nextConnID atomic.Int64

const (
	keepBufferCap = 4 << 10  // send buffers up to this size are kept for reuse
	streamChunk   = 64 << 10 // bytes pulled from a SendFrom reader at a time
)

func newTCPConnection(g *Goer, sock Socket) *TCPConnection {
	c := &TCPConnection{
		ID:                int(nextConnID.Add(1)),
		Protocol:          g.Protocol,
		MaxSendBufferSize: g.MaxSendBufferSize,
		MaxPackageSize:    g.MaxPackageSize,
		Connections:       g.Connections,
		goer:              g,
		sock:              sock,
		created:           time.Now().UnixNano(),
	}
	c.syncLimits()
	c.lastActive.Store(c.created)
	return c
}

// pacedLocked reports whether reading pauses while the send queue is past
// its high-water mark; c.mu is held.
func (c *TCPConnection) pacedLocked() bool {
	if c.goer.SendHighWater > 0 {
		return true
	}
	pp, ok := c.Protocol.(Paced)
	return ok && pp.Paced()
}

// highWater is the send queue size at which reading pauses (see
// Goer.SendHighWater).
func (c *TCPConnection) highWater() int {
	m := int(c.maxSend.Load())
	h := c.goer.SendHighWater
	switch {
	case h <= 0:
		h = m / 2
	case h > m:
		h = m
	}
	return max(h, 1)
}

// syncLimits publishes the exported limit fields to other goroutines. It runs
// on the lane, where the user may have changed them.
func (c *TCPConnection) syncLimits() {
	if m := int32(min(c.MaxSendBufferSize, math.MaxInt32)); m != c.maxSend.Load() {
		c.maxSend.Store(m)
	}
}

// maxPackage is MaxPackageSize, clamped; lane only.
func (c *TCPConnection) maxPackage() int { return int(min(c.MaxPackageSize, math.MaxInt32)) }

// SetProtocol switches the connection to p (nil: raw) for the bytes that
// follow and for later sends: an HTTP request upgraded to WebSocket, say.
// Call it from the connection's own callbacks.
func (c *TCPConnection) SetProtocol(p Protocol) {
	c.mu.Lock()
	c.Protocol = p
	if !c.pacedLocked() {
		c.resumeLocked(pausedByQueue)
	}
	c.mu.Unlock()
	if c.pkgLen < 0 {
		c.pkgLen = 0 // what the old protocol scanned means nothing to p
	}
}

// Close implements Connection: it queues data (encoded with the protocol if
// not empty) and the protocol's closing message (a WebSocket close frame,
// see CloseFramer), stops reading and closes the connection once the queue
// is written, or after the Goer's CloseTimeout. Safe for concurrent use.
func (c *TCPConnection) Close(data string) { c.close(data, true) }

// close is Close; farewell adds the protocol's closing message
// (CloseFramer), which a peer that already left does not get.
func (c *TCPConnection) close(data string, farewell bool) {
	c.mu.Lock()
	if c.connState() != connOpen {
		c.mu.Unlock()
		return
	}
	c.closeLocked(data, farewell)
	c.kickLocked()
}

// closeLocked queues the closing data and begins the close; the caller
// kicks the writer.
func (c *TCPConnection) closeLocked(data string, farewell bool) {
	if data != "" {
		if _, err := c.appendLocked(nil, data, false); err != nil {
			c.logger().Warn("close data not sent", "conn", c.ID, "err", err)
		}
	}
	if cf, ok := c.Protocol.(CloseFramer); ok && farewell {
		if b := cf.CloseFrame(c); len(b) > 0 {
			c.appendLocked(b, "", true)
		}
	}
	c.beginCloseLocked()
}

// beginCloseLocked marks the connection closing and bounds the flush.
func (c *TCPConnection) beginCloseLocked() {
	if c.connState() != connOpen {
		return
	}
	c.setStateLocked(connClosing)
	c.wakeReader()
	var task timer.TaskID
	if t := c.goer.timer.Load(); t != nil {
		task = t.Add(c.closeTimeout(), func(...any) { c.closeTimedOut() }, nil, false)
	}
	if task != 0 {
		c.x().closeTask = task
	} else { // no Goer running (a client), or its timer just stopped
		time.AfterFunc(c.closeTimeout(), c.closeTimedOut)
	}
	if c.idleLocked() {
		c.shutdownLocked()
	}
}

// closeTimedOut ends a connection whose flush outlasted CloseTimeout.
// What is still queued is dropped, and said so: Destroy resets the socket.
func (c *TCPConnection) closeTimedOut() {
	c.mu.Lock()
	drop := c.connState() != connClosed && !c.idleLocked()
	queued, streams := len(c.out), len(c.streamsLocked())
	c.mu.Unlock()
	if drop {
		c.logger().Warn("close timed out; queued data dropped, connection reset", "goer", c.ownerName(), "conn", c.ID,
			"remote", c.GetRemoteAddress(), "queued", queued, "streams", streams, "timeout", c.closeTimeout())
	}
	c.Destroy()
}

// Destroy closes the socket at once, dropping whatever is still queued;
// when something was, the socket is reset (see Aborter), so that the peer
// does not take the cut stream for a whole one. OnClose follows on the
// connection's lane. Safe for concurrent use.
func (c *TCPConnection) Destroy() {
	c.mu.Lock()
	if c.connState() == connClosed {
		c.mu.Unlock()
		return
	}
	c.setStateLocked(connClosed)
	drop := !c.idleLocked()
	c.out = nil
	if c.awaitOut { // no Writable to wait for: the socket closes below
		c.awaitOut, c.writing = false, false
	}
	var closers []io.Closer
	if x := c.extra.Load(); x != nil {
		x.spare, x.inflight, x.streamed = nil, 0, 0
		for _, p := range x.streams {
			// A reader the flusher is reading is closed by the flusher.
			if cl, ok := p.r.(io.Closer); ok && !p.busy {
				closers = append(closers, cl)
			}
		}
		x.streams = nil
	}
	c.signalDrainedLocked()
	c.signalShutLocked()
	c.wakeReader()
	c.mu.Unlock()
	for _, cl := range closers {
		cl.Close()
	}
	if !drop || !abortSocket(c.sock) {
		c.sock.Close()
	}
}

// ioFailedLocked reports a socket error and destroys the connection; c.mu
// is held, and released. The error is posted before the lock is let go:
// a write that took the peer's reset leaves a read of the peer's EOF
// behind it (the kernel reports a reset once), and the reader, finding the
// queue idle, must not end the connection as a clean close before the
// error is on the lane.
func (c *TCPConnection) ioFailedLocked(err error) {
	if c.connState() != connClosed && !isClosedError(err) {
		c.post(laneEvent{kind: evError, code: ErrCodeIO, msg: err.Error()})
	}
	c.mu.Unlock()
	c.Destroy()
}

func (c *TCPConnection) sendFailed(err error) {
	c.stats().SendFailures.Add(1)
	c.post(laneEvent{kind: evError, code: ErrCodeSendFail, msg: err.Error()})
}

// PauseRecv stops delivering messages (and reading) until ResumeRecv. A
// closing connection is not paused: it reads on until the peer's EOF.
// Backpressure (Goer.SendHighWater) pauses a connection on its own; the two
// pauses are independent, and the connection reads again once neither
// holds. While paused by PauseRecv (Pipe's pause too) the connection is
// never idle (Goer.IdleTimeout); the idle clock starts again at the
// resume. Safe for concurrent use.
func (c *TCPConnection) PauseRecv() {
	c.mu.Lock()
	c.pauseLocked(pausedByUser)
	c.mu.Unlock()
}

// ResumeRecv undoes PauseRecv. Safe for concurrent use.
func (c *TCPConnection) ResumeRecv() {
	c.mu.Lock()
	c.resumeLocked(pausedByUser)
	c.mu.Unlock()
}

// pauseLocked adds the reason why to the pause word; c.mu is held. The
// idle clock starts again: from now on what the peer sends is not read
// (sweepIdle, wrote).
func (c *TCPConnection) pauseLocked(why uint32) {
	w := c.pause.Load()
	if w&why != 0 || c.connState() != connOpen {
		return
	}
	if w&pausedMask == 0 {
		c.x().resumed = make(chan struct{})
		c.lastActive.Store(time.Now().UnixNano())
	}
	c.pause.Store((w | why) + pauseGen)
}

// resumeLocked lifts the reasons why; the reader goes on once none is
// left, and the idle clock (IdleTimeout) starts again from now: the
// peer could not be heard while we did not read. c.mu is held.
func (c *TCPConnection) resumeLocked(why uint32) {
	w := c.pause.Load()
	if w&why == 0 {
		return
	}
	w &^= why
	c.pause.Store(w)
	if w&pausedMask == 0 {
		c.lastActive.Store(time.Now().UnixNano())
		x := c.x()
		close(x.resumed)
		if x.notifyResume {
			x.notifyResume = false
			if rn, ok := c.sock.(ResumeNotifier); ok {
				rn.Resumed()
			}
		}
	}
}

// wakeReader releases a reader waiting in a pause, whatever paused it (the
// connection is closing); c.mu is held.
func (c *TCPConnection) wakeReader() { c.resumeLocked(pausedMask) }

// IsPaused reports whether receiving is paused, by PauseRecv or because
// the send queue is past its high-water mark.
func (c *TCPConnection) IsPaused() bool { return c.isPaused() }

func (c *TCPConnection) isPaused() bool { return c.pause.Load()&pausedMask != 0 }

func isClosedError(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF)
}
