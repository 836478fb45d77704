package daemon

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Defaults applied by Run where a Config field is zero.
const (
	DefaultGracefulTimeout = 30 * time.Second
	DefaultStopTimeout     = 10 * time.Second
	DefaultReloadTimeout   = 30 * time.Second
	DefaultStartTimeout    = 30 * time.Second
)

// Errors returned by Run. Callers exit non-zero on any error.
var (
	ErrUsage          = errors.New("goes: usage")
	ErrRunning        = errors.New("goes: already running")
	ErrNotRunning     = errors.New("goes: not running")
	ErrReloadFailed   = errors.New("goes: reload failed")
	ErrReloadBusy     = errors.New("goes: a reload is already in progress")
	ErrStartFailed    = errors.New("goes: start failed")
	ErrControl        = errors.New("goes: control channel")
	ErrNotImplemented = errors.New("goes: hook not set")
	ErrStopTimeout    = errors.New("goes: stop did not finish")
)

// Config describes the program whose lifecycle Run manages. The zero value
// works: every field has a documented default.
type Config struct {
	// Name is the program's name in messages; default: the executable's base name.
	Name string
	// Version is the framework version shown by start and status.
	Version string
	// PidFile holds the server's process id; "" means DefaultPidFile().
	// The control socket lives beside it, at PidFile + ".sock".
	PidFile string
	// StdoutFile receives stdout and stderr in daemon mode; "" means /dev/null.
	StdoutFile string
	// Daemon runs start in the background, as if -d were given.
	Daemon bool
	// GracefulTimeout bounds a graceful stop or the old process's wait after
	// a reload (DefaultGracefulTimeout when zero).
	GracefulTimeout time.Duration
	// StopTimeout bounds how long stop waits for the process to exit before
	// killing it (DefaultStopTimeout when zero; stop -g adds GracefulTimeout).
	StopTimeout time.Duration
	// ReloadTimeout bounds how long a reload waits for the new process to be
	// ready (DefaultReloadTimeout when zero).
	ReloadTimeout time.Duration
	// StartTimeout bounds how long start -d waits for the daemon to be ready
	// (DefaultStartTimeout when zero).
	StartTimeout time.Duration
	// Args are the command line without the program name; nil means os.Args[1:].
	Args []string
	// Stdout and Stderr receive the commands' output; nil means os.Stdout
	// and os.Stderr.
	Stdout, Stderr io.Writer
}

// Hooks plug a server into the lifecycle. Run calls them from one goroutine at
// a time, except Status and Connections, which may run concurrently with each
// other and with the server.
type Hooks struct {
	// Listen creates the listening sockets, or adopts them from inherited in
	// a reload child. inherited maps the keys that Files returned in the old
	// process (e.g. "tcp:127.0.0.1:8080") to the sockets; Run closes these
	// files after Listen returns, so Listen must duplicate what it keeps
	// (net.FileListener and net.FilePacketConn do). A key Listen does not
	// use is simply closed. Required.
	Listen func(inherited map[string]*os.File) error
	// Serve starts serving and returns; called once after Listen. Required.
	Serve func() error
	// Files returns duplicates of the listening sockets, keyed for Listen in
	// the new process (net.TCPListener.File and the like); Run closes them.
	// Run hands the new process its own duplicates and keeps the sockets,
	// which share their mode with these, non-blocking. Needed for reload.
	Files func() (map[string]*os.File, error)
	// Stop stops accepting and closes the connections: at once (graceful
	// false: queued data is still flushed, bounded by the server's own close
	// timeout) or after they end by themselves, waiting at most timeout, then
	// closing the rest. It blocks until done. After a reload the listening
	// sockets are shared with the new process, so Stop must not remove a
	// Unix socket's file (net.UnixListener.SetUnlinkOnClose(false)).
	// Run waits for Stop at most StopTimeout (plus timeout when graceful),
	// and not at all after a SIGINT or SIGTERM during the stop; then it
	// returns ErrStopTimeout while Stop may still run. Required.
	Stop func(graceful bool, timeout time.Duration)
	// StopAccepting makes the old process stop accepting once the new one
	// is ready, before reload reports success, so that every connection
	// made after a successful reload reaches the new code. Open connections
	// are served on. Optional (Stop closes the listeners anyway).
	StopAccepting func()
	// OnReload runs in the old process once the new one is ready, before
	// Stop. Optional.
	OnReload func()
	// Status reports one row per server for the status command. Optional.
	Status func() []GoerStatus
	// Connections reports every open connection for the connections
	// command. Optional.
	Connections func() []ConnInfo
}

// GoerStatus is one server's row in the status output.
type GoerStatus struct {
	Name         string `json:"name"`
	Listen       string `json:"listen"` // e.g. tcp://127.0.0.1:8080
	Transport    string `json:"transport"`
	Protocol     string `json:"protocol"`
	Connections  int    `json:"connections"`
	SendFailures int64  `json:"send_failures"`
	Timers       int    `json:"timers"`
	Requests     int64  `json:"requests"`
	State        string `json:"state"`
}

// ConnInfo is one connection's row in the connections output.
type ConnInfo struct {
	ID           int    `json:"id"`
	Goer         string `json:"goer"`
	Transport    string `json:"transport"`
	Protocol     string `json:"protocol"`
	Remote       string `json:"remote"`
	Local        string `json:"local"`
	RecvQueue    int    `json:"recv_queue"`
	SendQueue    int    `json:"send_queue"`
	BytesRead    int64  `json:"bytes_read"`
	BytesWritten int64  `json:"bytes_written"`
	State        string `json:"state"`
}

func (c *Config) setDefaults() {
	if c.Args == nil && len(os.Args) > 0 {
		c.Args = os.Args[1:]
	}
	if c.Name == "" {
		c.Name = programName()
	}
	if c.PidFile == "" {
		c.PidFile = DefaultPidFile()
	}
	if c.GracefulTimeout <= 0 {
		c.GracefulTimeout = DefaultGracefulTimeout
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	if c.ReloadTimeout <= 0 {
		c.ReloadTimeout = DefaultReloadTimeout
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.Stdout == nil {
		c.Stdout = os.Stdout
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
}

func (h *Hooks) check() error {
	switch {
	case h.Listen == nil:
		return fmt.Errorf("%w: Listen", ErrNotImplemented)
	case h.Serve == nil:
		return fmt.Errorf("%w: Serve", ErrNotImplemented)
	case h.Stop == nil:
		return fmt.Errorf("%w: Stop", ErrNotImplemented)
	}
	return nil
}
