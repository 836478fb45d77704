// Command testlog turns the output of go test -json into a short log:
// every skipped test with its skip message, the full output of every
// failing test and package, one line per package, and a count at the end.
// Passing tests print nothing of their own.
//
//	go test -json ./... | testlog [-q] [-skips FILE]
//
// -q leaves out the line per passing package; -skips appends one line per
// skipped test ("package test: message") to FILE. Lines that are not JSON
// events (go's own messages) pass through. testlog exits 1 if a test or a
// package failed, so that a pipeline under pipefail fails on either side.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// event is one line of go test -json (see go doc test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output, build-fail
	Test       string
	Output     string
}

type key struct{ pkg, test string }

// filter holds the output of every test and package still running.
type filter struct {
	w      io.Writer
	quiet  bool
	skips  io.Writer // nil: skips are listed in w only
	out    map[key][]string
	order  map[string][]string // tests per package, in start order
	failed bool

	passed, failedTests, skipped int
}

func newFilter(w io.Writer, quiet bool, skips io.Writer) *filter {
	return &filter{w: w, quiet: quiet, skips: skips, out: map[key][]string{}, order: map[string][]string{}}
}

// line handles one line of input.
func (f *filter) line(s string) {
	var e event
	if !strings.HasPrefix(s, "{") || json.Unmarshal([]byte(s), &e) != nil || e.Action == "" {
		fmt.Fprintln(f.w, s)
		return
	}
	k := key{e.Package, e.Test}
	switch e.Action {
	case "build-output":
		fmt.Fprint(f.w, e.Output)
	case "build-fail":
		f.failed = true
	case "run":
		f.order[e.Package] = append(f.order[e.Package], e.Test)
	case "output":
		f.out[k] = append(f.out[k], e.Output)
	case "pass", "fail", "skip":
		if e.Test == "" {
			f.endPackage(e)
		} else {
			f.endTest(e)
		}
	}
}

func (f *filter) endTest(e event) {
	k := key{e.Package, e.Test}
	lines := f.out[k]
	delete(f.out, k)
	switch e.Action {
	case "pass":
		f.passed++
	case "fail":
		f.failedTests++
		f.failed = true
		for _, l := range lines {
			fmt.Fprint(f.w, l)
		}
	case "skip":
		f.skipped++
		msg := skipMessage(lines)
		fmt.Fprintf(f.w, "--- SKIP: %s [%s]\n", e.Test, e.Package)
		for _, l := range msg {
			fmt.Fprint(f.w, l)
		}
		if f.skips != nil {
			text := "(no message)"
			if len(msg) > 0 {
				parts := make([]string, len(msg))
				for i, l := range msg {
					parts[i] = strings.TrimSpace(l)
				}
				text = strings.Join(parts, " ")
			}
			fmt.Fprintf(f.skips, "%s %s: %s\n", e.Package, e.Test, text)
		}
	}
}

// skipMessage returns the last log entry of a skipped test, which is what
// Skip was given: its first line is indented four spaces ("    x_test.go:12:
// ..."), the lines that continue it eight.
func skipMessage(lines []string) []string {
	start := -1
	var logged []string
	for _, l := range lines {
		if !strings.HasPrefix(l, "    ") {
			continue // === RUN, --- SKIP and the like
		}
		if !strings.HasPrefix(l, "        ") {
			start = len(logged)
		}
		logged = append(logged, l)
	}
	if start < 0 {
		return nil
	}
	return logged[start:]
}

func (f *filter) endPackage(e event) {
	pkg := e.Package
	lines := f.out[key{pkg, ""}]
	delete(f.out, key{pkg, ""})
	tests := f.order[pkg]
	delete(f.order, pkg)
	if e.Action == "fail" {
		f.failed = true
		// Tests that never ended (a panic elsewhere, the timeout) hold the
		// story: print them before the package's own output.
		for _, t := range tests {
			if l, ok := f.out[key{pkg, t}]; ok {
				for _, s := range l {
					fmt.Fprint(f.w, s)
				}
			}
		}
		for _, l := range lines {
			fmt.Fprint(f.w, l)
		}
	} else if !f.quiet && len(lines) > 0 {
		// ok, or ? for a package without tests: go test's own last line.
		fmt.Fprint(f.w, lines[len(lines)-1])
	}
	for _, t := range tests {
		delete(f.out, key{pkg, t})
	}
}

// flush prints whatever never ended (the input was cut short).
func (f *filter) flush() {
	for k, lines := range f.out {
		f.failed = true
		fmt.Fprintf(f.w, "testlog: %s %s did not finish; its output:\n", k.pkg, k.test)
		for _, l := range lines {
			fmt.Fprint(f.w, l)
		}
	}
	fmt.Fprintf(f.w, "tests: %d passed, %d failed, %d skipped\n", f.passed, f.failedTests, f.skipped)
}

func run(r io.Reader, w io.Writer, quiet bool, skips io.Writer) (failed bool, err error) {
	f := newFilter(w, quiet, skips)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		f.line(sc.Text())
	}
	f.flush()
	return f.failed, sc.Err()
}

func main() {
	quiet := flag.Bool("q", false, "leave out the line per passing package")
	skipsFile := flag.String("skips", "", "append one line per skipped test to this file")
	flag.Parse()
	var skips io.Writer
	if *skipsFile != "" {
		file, err := os.OpenFile(*skipsFile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "testlog:", err)
			os.Exit(2)
		}
		skips = file
	}
	// Unbuffered: a line is written as soon as its test ends, and a long
	// run shows its progress.
	failed, err := run(os.Stdin, os.Stdout, *quiet, skips)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testlog:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}
