//go:build unix

package daemon

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// After a reload the old process finishes its connections while the new
// one serves. The control socket's name belongs to the new process then, so
// the old one answers status and connections requests on a socket of its
// own beside it, PidFile + ".sock.draining." + its pid, until it exits; the
// status command lists every such process with its connections.

const drainInfix = ".draining."

// drainPath is where the process pid answers while it drains.
func drainPath(pidFile string, pid int) string {
	return controlPath(pidFile) + drainInfix + strconv.Itoa(pid)
}

// listenDrain opens this process's draining socket; run calls it once a
// reload handed over. Failing to (a path too long for a Unix socket, say)
// only costs the status listing.
func (s *server) listenDrain() {
	path := drainPath(s.cfg.PidFile, s.pid)
	os.Remove(path)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		s.errorf("status will not list this process (pid %d) while it finishes its connections: %v", s.pid, err)
		return
	}
	ln.SetUnlinkOnClose(false) // removed in finish, by path
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		os.Remove(path)
		return
	}
	s.mu.Lock()
	s.drainLn = ln
	s.mu.Unlock()
	go s.accept(ln, false)
}

// closeDrain closes the draining socket and removes its file.
func (s *server) closeDrain() {
	s.mu.Lock()
	ln := s.drainLn
	s.drainLn = nil
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
		os.Remove(drainPath(s.cfg.PidFile, s.pid))
	}
}

// drainingStatus asks every process still draining after a reload of the
// server at pidFile for its status, oldest first.
func drainingStatus(pidFile string) []*statusReport {
	var out []*statusReport
	for _, resp := range askDraining(pidFile, request{Cmd: "status"}) {
		if resp.Status != nil {
			out = append(out, resp.Status)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out
}

// askDraining sends req to every process still draining after a reload of
// the server at pidFile and returns the answers, by pid. Sockets left
// behind by a process that is gone are removed.
func askDraining(pidFile string, req request) []response {
	paths, _ := filepath.Glob(globEscape(controlPath(pidFile)+drainInfix) + "*")
	var out []response
	for _, path := range paths {
		pid, err := strconv.Atoi(path[strings.LastIndex(path, ".")+1:])
		if err != nil || pid <= 0 {
			continue
		}
		resp, err := callPath(path, req, 2*time.Second)
		if err != nil || !resp.OK {
			if !processAlive(pid) || errors.Is(err, syscall.ECONNREFUSED) {
				os.Remove(path)
			}
			continue
		}
		if resp.Pid == 0 {
			resp.Pid = pid
		}
		out = append(out, resp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Pid < out[j].Pid })
	return out
}

// globEscape quotes the pattern characters of a literal path for Glob.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
