//go:build unix

package daemon

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"time"
)

// The control channel is a Unix socket beside the pid file. A command sends
// one JSON request line; the server answers with one or more JSON response
// lines (stop answers once it has accepted the request and again, with Done
// set, once the server has stopped).

type request struct {
	Cmd      string `json:"cmd"` // ping, stop, status, connections, reload
	Graceful bool   `json:"graceful,omitempty"`
	Exe      string `json:"exe,omitempty"` // reload: the binary to start
	Dir      string `json:"dir,omitempty"` // reload: its working directory
}

type response struct {
	OK     bool          `json:"ok"`
	Error  string        `json:"error,omitempty"`
	Pid    int           `json:"pid,omitempty"`
	Done   bool          `json:"done,omitempty"`
	Output string        `json:"output,omitempty"` // reload: the new process's output
	Status *statusReport `json:"status,omitempty"`
	Conns  []ConnInfo    `json:"conns,omitempty"`
}

// statusReport is the status command's data; the client formats it.
type statusReport struct {
	Pid       int          `json:"pid"`
	Name      string       `json:"name"`
	Version   string       `json:"version"`
	GoVersion string       `json:"go_version"`
	Started   time.Time    `json:"started"`
	Now       time.Time    `json:"now"`
	Daemon    bool         `json:"daemon"`
	Load      string       `json:"load"`
	Memory    int64        `json:"memory"`
	State     string       `json:"state"`
	Goers     []GoerStatus `json:"goers"`
	Rates     []float64    `json:"rates"` // requests per second, per Goer
}

// controlClient is one connection to a running server's control socket.
type controlClient struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialControl(pidFile string) (*controlClient, error) {
	return dialSocket(controlPath(pidFile))
}

// dialSocket connects to the control socket at path.
func dialSocket(path string) (*controlClient, error) {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrControl, err)
	}
	return &controlClient{conn: c, r: bufio.NewReader(c)}, nil
}

func (c *controlClient) send(req request) error {
	b, _ := json.Marshal(req)
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.conn.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%w: %w", ErrControl, err)
	}
	return nil
}

// recv reads one response, waiting until deadline.
func (c *controlClient) recv(deadline time.Time) (response, error) {
	var resp response
	c.conn.SetReadDeadline(deadline)
	line, err := c.r.ReadBytes('\n')
	if err != nil {
		return resp, fmt.Errorf("%w: %w", ErrControl, err)
	}
	if err := json.Unmarshal(line, &resp); err != nil {
		return resp, fmt.Errorf("%w: bad response: %w", ErrControl, err)
	}
	return resp, nil
}

func (c *controlClient) Close() error { return c.conn.Close() }

// call sends req to the server at pidFile and returns the first response,
// within timeout.
func call(pidFile string, req request, timeout time.Duration) (response, error) {
	return callPath(controlPath(pidFile), req, timeout)
}

// callPath is call for the control socket at path.
func callPath(path string, req request, timeout time.Duration) (response, error) {
	c, err := dialSocket(path)
	if err != nil {
		return response{}, err
	}
	defer c.Close()
	if err := c.send(req); err != nil {
		return response{}, err
	}
	return c.recv(time.Now().Add(timeout))
}

func writeResponse(c net.Conn, resp response) error {
	b, _ := json.Marshal(resp)
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Write(append(b, '\n'))
	return err
}
