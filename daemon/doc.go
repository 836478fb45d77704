// Package daemon runs a goes program as a command-line server process:
// start, start -d, stop, stop -g, restart, reload, status and connections.
//
// A server plugs into the lifecycle through Hooks; Run reads the command
// from the command line and does it:
//
//	err := daemon.Run(daemon.Config{Name: "echo"}, daemon.Hooks{
//		Listen: srv.Listen, // create, or adopt inherited, listening sockets
//		Serve:  srv.Serve,  // start serving, return at once
//		Files:  srv.Files,  // duplicates of the sockets, for reload
//		Stop:   srv.Stop,   // stop accepting, close connections
//	})
//	os.Exit(daemon.ExitCode(err))
//
// The pid file (DefaultPidFile unless Config.PidFile is set) names the
// running process, and a Unix socket beside it (PidFile + ".sock") is its
// control channel: stop, status, connections and reload are requests over
// it. The pid file's first line is the pid; the next ones record the
// process's start time and executable, so that after a crash a pid the
// system has given to another process is never taken for the server: the
// commands report a stale file as not running (exit 3) and remove it. Signals work too: SIGINT and SIGTERM stop, SIGQUIT stops gracefully,
// SIGUSR1 (and SIGHUP in daemon mode) reloads the running binary. A stop
// is bounded: SIGINT or SIGTERM during a stop, or a Stop hook still
// running after StopTimeout (plus GracefulTimeout when graceful), ends Run
// with ErrStopTimeout, so a wedged server never outlives a kill.
//
// reload starts the binary that ran the reload command, with the same
// arguments and mode, hands it the listening sockets, and waits until it is
// ready; only then does the old process stop accepting, finish its
// connections (bounded by GracefulTimeout) and exit. If the new process
// fails, the old one keeps serving and reload reports the new one's output.
// While the old process finishes its connections it answers status and
// connections requests on a socket of its own (PidFile + ".sock.draining." +
// its pid): the status command lists it, [draining], with its count of
// connections, and the connections command lists them under its pid.
// In the foreground the old process stays, idle, until the new one ends, so
// the terminal and Ctrl+C keep working; SIGTERM, SIGQUIT and SIGUSR1 sent
// to it are passed on to the new one.
package daemon
