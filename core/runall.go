package core

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/shunhui19/goes/daemon"
)

// Version is the goes version shown by start and status.
const Version = "0.2.0"

// RunAll runs the program's command line for g alone: start, start -d,
// stop, restart, reload, status, connections (see Run). It exits the
// process with status 1 when the command fails.
func (g *Goer) RunAll() { RunAll(g) }

// RunAll runs several Goers in one process as one server (a TCP port and a
// UDP port, say): they start, reload and stop together. It exits the
// process with status 1 when the command fails.
func RunAll(goers ...*Goer) {
	if err := Run(goers...); err != nil {
		os.Exit(daemon.ExitCode(err))
	}
}

// Run carries out the command in os.Args for goers and returns its error
// instead of exiting. The process-wide settings (Daemon, StdoutFile,
// PidFile, GracefulTimeout) come from the first Goer that sets each.
func Run(goers ...*Goer) error {
	if len(goers) == 0 {
		return errors.New("goes: RunAll needs at least one Goer")
	}
	cfg := daemon.Config{Version: Version}
	for _, g := range goers {
		g.setDefaults()
		cfg.Daemon = cfg.Daemon || g.Daemon
		if cfg.StdoutFile == "" {
			cfg.StdoutFile = g.StdoutFile
		}
		if cfg.PidFile == "" {
			cfg.PidFile = g.PidFile
		}
		cfg.GracefulTimeout = max(cfg.GracefulTimeout, g.GracefulTimeout)
	}
	return daemon.Run(cfg, hooksFor(goers))
}

// hooksFor plugs goers into the process lifecycle.
func hooksFor(goers []*Goer) daemon.Hooks {
	return daemon.Hooks{
		Listen: func(inherited map[string]*os.File) error {
			for i, g := range goers {
				if err := g.listen(inherited[g.key()]); err != nil {
					for _, h := range goers[:i] {
						h.abandon()
					}
					return err
				}
			}
			return nil
		},
		Serve: func() error {
			for i, g := range goers {
				if err := g.serve(); err != nil {
					// Run stops those already served.
					for _, h := range goers[i+1:] {
						h.abandon()
					}
					return err
				}
			}
			return nil
		},
		Files: func() (map[string]*os.File, error) {
			files := make(map[string]*os.File, len(goers))
			for _, g := range goers {
				f, err := g.listenerFile()
				if err != nil {
					for _, f := range files {
						f.Close()
					}
					return nil, err
				}
				files[g.key()] = f
			}
			return files, nil
		},
		Stop: func(graceful bool, timeout time.Duration) {
			var wg sync.WaitGroup
			for _, g := range goers {
				wg.Add(1)
				go func(g *Goer) {
					defer wg.Done()
					if graceful {
						g.StopWithin(timeout)
					} else {
						g.Stop()
					}
				}(g)
			}
			wg.Wait()
		},
		StopAccepting: func() {
			for _, g := range goers {
				g.StopAccepting()
			}
		},
		OnReload: func() {
			for _, g := range goers {
				if g.OnReload != nil {
					func() {
						defer g.recoverGoerCallback("OnReload")
						g.OnReload(g)
					}()
				}
			}
		},
		Status: func() []daemon.GoerStatus {
			rows := make([]daemon.GoerStatus, 0, len(goers))
			for _, g := range goers {
				rows = append(rows, g.status())
			}
			return rows
		},
		Connections: func() []daemon.ConnInfo {
			var rows []daemon.ConnInfo
			for _, g := range goers {
				rows = append(rows, g.connInfo()...)
			}
			return rows
		},
	}
}

// key names the Goer's listening socket across a reload.
func (g *Goer) key() string { return g.Transport + ":" + g.Address }

// FileListener is implemented by listeners that can hand their socket to
// another process. File returns a duplicate; after it is called the
// listener must leave shared state (a Unix socket's file) in place on Close.
type FileListener interface {
	File() (*os.File, error)
}

func (g *Goer) listenerFile() (*os.File, error) {
	ln := g.Listener()
	fl, ok := ln.(FileListener)
	if ln == nil || !ok {
		return nil, fmt.Errorf("goes: %s: its listener cannot be handed to another process", g.name())
	}
	return fl.File()
}

// abandon closes a listener that was opened but never served.
func (g *Goer) abandon() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.state != goerRunning {
		return
	}
	g.listener.Close()
	if f, ok := g.listener.(Finisher); ok {
		f.Finish()
	}
	if g.sweepID != 0 {
		g.timer.Load().Del(g.sweepID)
	}
	if g.ownTimer {
		g.timer.Swap(nil).Stop()
		g.ownTimer = false
	}
	g.state = goerStopped
	close(g.served)
	close(g.done)
}

func (g *Goer) status() daemon.GoerStatus {
	g.mu.Lock()
	state := [...]string{"idle", "running", "stopping", "stopped"}[g.state]
	if g.state == goerStopping && g.draining.Load() {
		state = "draining"
	}
	listen := g.Transport + "://" + g.Address
	if g.listener != nil {
		listen = g.Transport + "://" + g.listener.Addr().String()
	}
	timers := 0
	if t := g.timer.Load(); t != nil {
		timers = t.Len()
	}
	g.mu.Unlock()
	return daemon.GoerStatus{
		Name:         g.name(),
		Listen:       listen,
		Transport:    g.Transport,
		Protocol:     ProtocolName(g.Protocol),
		Connections:  int(g.open.Load()),
		SendFailures: g.stats.SendFailures.Load(),
		Requests:     g.stats.Requests.Load(),
		Timers:       timers,
		State:        state,
	}
}

func (g *Goer) connInfo() []daemon.ConnInfo {
	var rows []daemon.ConnInfo
	g.Connections.Range(func(_ int, c *TCPConnection) bool {
		rows = append(rows, daemon.ConnInfo{
			ID:           c.ID,
			Goer:         g.name(),
			Transport:    g.Transport,
			Protocol:     ProtocolName(c.Protocol),
			Remote:       c.GetRemoteAddress(),
			Local:        c.GetLocalAddress(),
			RecvQueue:    c.RecvQueueSize(),
			SendQueue:    c.SendQueueSize(),
			BytesRead:    c.BytesRead(),
			BytesWritten: c.BytesWritten(),
			State:        c.State(),
		})
		return true
	})
	return rows
}
