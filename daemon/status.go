//go:build unix

package daemon

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

const ruleWidth = 100

// rule is a full-width line with title in the middle.
func rule(title string) string {
	if title == "" {
		return strings.Repeat("-", ruleWidth)
	}
	title = " " + title + " "
	left := (ruleWidth - len(title)) / 2
	return strings.Repeat("-", left) + title + strings.Repeat("-", ruleWidth-left-len(title))
}

func modeName(daemon bool) string {
	if daemon {
		return "daemon"
	}
	return "foreground"
}

// printBanner is what start prints once the server is up.
func printBanner(w io.Writer, st *statusReport) {
	fmt.Fprintln(w, rule("GOES"))
	fmt.Fprintf(w, "goes version: %-12s Go version: %s   mode: %s\n", orDash(st.Version), st.GoVersion, modeName(st.Daemon))
	fmt.Fprintln(w, rule("GOERS"))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "name\tlisten\ttransport\tprotocol\tstate")
	for _, g := range st.Goers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t[%s]\n", g.Name, g.Listen, g.Transport, orDash(g.Protocol), g.State)
	}
	tw.Flush()
	fmt.Fprintln(w, rule(""))
}

// formatStatus writes the status command's output: the server's, then a
// row per Goer of each old process still draining after a reload.
func formatStatus(w io.Writer, st *statusReport, draining ...*statusReport) {
	up := st.Now.Sub(st.Started)
	conns := 0
	for _, g := range st.Goers {
		conns += g.Connections
	}
	fmt.Fprintln(w, rule("GOES STATUS"))
	fmt.Fprintf(w, "goes version: %-12s Go version: %s\n", orDash(st.Version), st.GoVersion)
	fmt.Fprintf(w, "start time: %s   run %s\n", st.Started.Format("2006-01-02 15:04:05"), formatUptime(up))
	fmt.Fprintf(w, "load average: %-20s mode: %s   state: %s\n", orDash(st.Load), modeName(st.Daemon), st.State)
	fmt.Fprintf(w, "%d goers   %d connections\n", len(st.Goers), conns)
	if len(draining) > 0 {
		old := 0
		for _, d := range draining {
			for _, g := range d.Goers {
				old += g.Connections
			}
		}
		procs := "processes"
		if len(draining) == 1 {
			procs = "process"
		}
		fmt.Fprintf(w, "draining after a reload: %d old %s   %d connections\n", len(draining), procs, old)
	}
	fmt.Fprintln(w, rule("GOERS"))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "pid\tmemory\tlistening\tname\tconnections\tsend_fail\ttimers\ttotal_request\tqps\tstatus")
	for _, p := range append([]*statusReport{st}, draining...) {
		for i, g := range p.Goers {
			rate := 0.0
			if i < len(p.Rates) {
				rate = p.Rates[i]
			}
			state := g.State
			if p != st && p.State == "draining" {
				state = "draining"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%.1f\t[%s]\n",
				p.Pid, formatBytes(p.Memory), g.Listen, g.Name, g.Connections, g.SendFailures, g.Timers, g.Requests, rate, state)
		}
	}
	tw.Flush()
	fmt.Fprintln(w, rule(""))
}

// formatConnections writes the connections command's output.
func formatConnections(w io.Writer, conns []ConnInfo) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "id\tgoer\ttransport\tprotocol\tremote\tlocal\trecv_q\tsend_q\tbytes_read\tbytes_written\tstate")
	for _, c := range conns {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n",
			c.ID, orDash(c.Goer), c.Transport, orDash(c.Protocol), c.Remote, c.Local,
			c.RecvQueue, c.SendQueue, c.BytesRead, c.BytesWritten, c.State)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d connections\n", len(conns))
}

func formatUptime(d time.Duration) string {
	d = d.Round(time.Second)
	days := int(d / (24 * time.Hour))
	d -= time.Duration(days) * 24 * time.Hour
	h := int(d / time.Hour)
	d -= time.Duration(h) * time.Hour
	m := int(d / time.Minute)
	s := int((d - time.Duration(m)*time.Minute) / time.Second)
	return fmt.Sprintf("%d days %d hours %d minutes %d seconds", days, h, m, s)
}

func formatBytes(n int64) string {
	switch {
	case n <= 0:
		return "-"
	case n >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
