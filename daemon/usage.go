package daemon

import (
	"errors"
	"fmt"
)

// Exit codes that ExitCode maps errors to.
const (
	ExitOK         = 0
	ExitFailure    = 1
	ExitUsage      = 2
	ExitNotRunning = 3
)

// ExitCode is the process exit status for an error returned by Run: 0 for
// nil, 2 for a usage error, 3 when the server is not running (as for
// stop, reload, status and connections), 1 for every other failure.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrUsage):
		return ExitUsage
	case errors.Is(err, ErrNotRunning):
		return ExitNotRunning
	}
	return ExitFailure
}

// Usage returns the command-line help for program name.
func Usage(name string) string {
	return fmt.Sprintf(`Usage: %s <command> [options]

Commands:
  start        start the server in the foreground; Ctrl+C stops it
               -d  run as a daemon, in the background
               -q  quiet: print nothing on success
  stop         stop the server, closing its connections
               -g  gracefully: stop accepting, let connections finish
  restart      stop, then start (accepts -d, -g and -q)
  reload       replace the running server with this program, without
               dropping connections; the old process finishes its own
  status       show the server's state and counters
               -d  refresh every second until interrupted
               -n  with -d: stop after this many refreshes
  connections  list the open connections

Exit status: 0 success, 1 failure, 2 usage error, 3 not running.
`, name)
}
