package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A module whose tests pass, skip (with one-line and two-line messages,
// after logging something else), fail (in a subtest, with a log), and a
// package without tests.
var sample = map[string]string{
	"go.mod": "module sample\n\ngo 1.22\n",
	"a/a_test.go": `package a

import "testing"

func TestPasses(t *testing.T) { t.Log("passing output") }
func TestNeedsTool(t *testing.T) {
	t.Log("looked for the tool")
	t.Skip("frobnicate not installed")
}
func TestTwoLines(t *testing.T) { t.Skipf("first line\nsecond line") }
func TestNoMessage(t *testing.T) { t.SkipNow() }
func TestParent(t *testing.T) {
	t.Run("child", func(t *testing.T) {
		t.Log("child's log")
		t.Errorf("child broke: %d", 42)
	})
}
func TestParallel(t *testing.T) { t.Parallel(); t.Log("parallel output") }
`,
	"b/b_test.go": `package b

import "testing"

func TestOK(t *testing.T) {}
`,
	"c/c.go": "package c\n",
}

func goTestJSON(t *testing.T, files map[string]string, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command")
	}
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", append([]string{"test", "-json", "-count=1"}, append(args, "./...")...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	out, _ := cmd.Output() // fails when a test fails
	return out
}

func filterOut(t *testing.T, in []byte, quiet bool) (string, string, bool) {
	t.Helper()
	var out, skips bytes.Buffer
	failed, err := run(bytes.NewReader(in), &out, quiet, &skips)
	if err != nil {
		t.Fatal(err)
	}
	return out.String(), skips.String(), failed
}

func TestFilterRealRun(t *testing.T) {
	out, skips, failed := filterOut(t, goTestJSON(t, sample), false)
	if !failed {
		t.Error("a failing test did not make the run fail")
	}
	for _, want := range []string{
		"--- SKIP: TestNeedsTool [sample/a]\n    a_test.go:8: frobnicate not installed\n",
		"--- SKIP: TestTwoLines [sample/a]\n    a_test.go:10: first line\n        second line\n",
		"--- SKIP: TestNoMessage [sample/a]\n=== RUN   TestParent/child\n",
		"    a_test.go:14: child's log\n    a_test.go:15: child broke: 42\n--- FAIL: TestParent/child",
		"--- FAIL: TestParent (",
		"FAIL\tsample/a\t",
		"ok  \tsample/b\t",
		"?   \tsample/c\t[no test files]",
		"tests: 3 passed, 2 failed, 3 skipped\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{"passing output", "parallel output", "looked for the tool", "=== RUN   TestPasses", "--- PASS"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("output has %q:\n%s", unwanted, out)
		}
	}
	wantSkips := "sample/a TestNeedsTool: a_test.go:8: frobnicate not installed\n" +
		"sample/a TestTwoLines: a_test.go:10: first line second line\n" +
		"sample/a TestNoMessage: (no message)\n"
	if skips != wantSkips {
		t.Errorf("skips file:\n%s\nwant:\n%s", skips, wantSkips)
	}

	out, _, _ = filterOut(t, goTestJSON(t, sample), true)
	if strings.Contains(out, "ok  \tsample/b") || strings.Contains(out, "sample/c") {
		t.Errorf("-q printed passing packages:\n%s", out)
	}
	if !strings.Contains(out, "--- SKIP: TestNeedsTool") || !strings.Contains(out, "FAIL\tsample/a") {
		t.Errorf("-q left out skips or failures:\n%s", out)
	}
}

func TestFilterAllPass(t *testing.T) {
	out, skips, failed := filterOut(t, goTestJSON(t, map[string]string{"go.mod": sample["go.mod"], "b/b_test.go": sample["b/b_test.go"]}), false)
	if failed || skips != "" || !strings.Contains(out, "ok  \tsample/b") || !strings.HasSuffix(out, "tests: 1 passed, 0 failed, 0 skipped\n") {
		t.Errorf("failed %v, skips %q, output:\n%s", failed, skips, out)
	}
}

// A timeout ends the package while a test runs: that test's output (the
// goroutine dump) is shown, and the run fails.
func TestFilterTimeout(t *testing.T) {
	files := map[string]string{"go.mod": sample["go.mod"], "s/s_test.go": `package s

import (
	"testing"
	"time"
)

func TestSlow(t *testing.T) {
	t.Log("still waiting")
	time.Sleep(time.Minute)
}
`}
	out, _, failed := filterOut(t, goTestJSON(t, files, "-timeout=1s"), false)
	if !failed || !strings.Contains(out, "still waiting") || !strings.Contains(out, "panic: test timed out") || !strings.Contains(out, "FAIL\tsample/s") {
		t.Errorf("failed %v, output:\n%s", failed, out)
	}
}

func TestFilterBuildFailure(t *testing.T) {
	files := map[string]string{"go.mod": sample["go.mod"], "x/x_test.go": "package x\n\nvar n int = \"not a number\"\n"}
	out, _, failed := filterOut(t, goTestJSON(t, files), false)
	if !failed || !strings.Contains(out, "x_test.go:3") || !strings.Contains(out, "FAIL\tsample/x [build failed]") {
		t.Errorf("failed %v, output:\n%s", failed, out)
	}
}

// Lines that are not test events pass through; input cut short shows what
// was running and fails.
func TestFilterOtherLinesAndCutInput(t *testing.T) {
	in := "go: downloading example.com/x v1.0.0\n" +
		`{"Action":"run","Package":"p","Test":"TestA"}` + "\n" +
		`{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}` + "\n" +
		`{"Action":"output","Package":"p","Test":"TestA","Output":"    a_test.go:1: half way\n"}` + "\n"
	out, _, failed := filterOut(t, []byte(in), false)
	if !failed || !strings.HasPrefix(out, "go: downloading example.com/x v1.0.0\n") || !strings.Contains(out, "half way") {
		t.Errorf("failed %v, output:\n%s", failed, out)
	}
}
