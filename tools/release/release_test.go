package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The release command is tested on a throwaway repository of two modules,
// a and b (b requires a), served to the go command as this path.
const demoPath = "github.com/goes-release-test/demo"

const demoTest = "cd a && go test ./... && cd ../b && go test ./..."

// demoRepo makes the repository in a temporary directory, with git using
// a config of the test's own.
func demoRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed: the release command tags with git")
	}
	home := t.TempDir()
	cfg := filepath.Join(home, "gitconfig")
	writeFile(t, cfg, "[user]\n\tname = test\n\temail = test@localhost\n[init]\n\tdefaultBranch = main\n[commit]\n\tgpgSign = false\n[tag]\n\tgpgSign = false\n")
	t.Setenv("GIT_CONFIG_GLOBAL", cfg)
	t.Setenv("GIT_CONFIG_NOSYSTEM", "1")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "go.work"), "go 1.22\n\nuse (\n\t./a\n\t./b\n)\n")
	writeFile(t, filepath.Join(dir, "a", "go.mod"), "module "+demoPath+"/a\n\ngo 1.22\n")
	writeFile(t, filepath.Join(dir, "a", "a.go"), "// Package a says hello.\npackage a\n\n// Version is shown to users.\nconst Version = \"0.0.0\"\n\n// Hello says hello.\nfunc Hello() string { return \"hello\" }\n")
	writeFile(t, filepath.Join(dir, "a", "a_test.go"), "package a\n\nimport \"testing\"\n\nfunc TestHello(t *testing.T) {\n\tif Hello() != \"hello\" {\n\t\tt.Fatal(Hello())\n\t}\n}\n")
	writeFile(t, filepath.Join(dir, "b", "go.mod"), "module "+demoPath+"/b\n\ngo 1.22\n\nrequire "+demoPath+"/a v0.0.0\n\nreplace "+demoPath+"/a => ../a\n")
	writeFile(t, filepath.Join(dir, "b", "b.go"), "// Package b greets.\npackage b\n\nimport \""+demoPath+"/a\"\n\n// Greet greets.\nfunc Greet() string { return a.Hello() + \", world\" }\n")
	writeFile(t, filepath.Join(dir, "CHANGELOG.md"), changelogHeader+"\n## Unreleased\n\n- a says hello; b greets.\n")
	git(t, dir, "init", "-q")
	commitAll(t, dir, "demo")
	return dir
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := gitOutput(dir, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

func commitAll(t *testing.T, dir, msg string) {
	t.Helper()
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", msg)
}

// repoState is what a refused release must leave as it was.
func repoState(t *testing.T, dir string) string {
	t.Helper()
	return git(t, dir, "rev-parse", "HEAD") + "\n" + git(t, dir, "status", "--porcelain") + "\n" + git(t, dir, "tag", "--list")
}

// runRelease runs the release command on dir and returns its output.
func runRelease(t *testing.T, dir, version string, dry bool, test string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := release(options{Root: dir, Version: version, DryRun: dry, TestCmd: test, Gorelease: gorelease(t), Out: &out, Date: "2026-01-02"})
	return out.String(), err
}

var goreleasePath string

func gorelease(t *testing.T) string {
	t.Helper()
	if goreleasePath == "" {
		var log bytes.Buffer
		p, err := findGorelease(&log)
		if err != nil {
			t.Skipf("gorelease is not installed and could not be (go install %s@%s, as .ci/run does): %v\n%s", goreleasePkg, goreleaseVersion, err, log.String())
		}
		goreleasePath = p
	}
	return goreleasePath
}

// Bad input is refused with a message that says what to do, and nothing
// changes.
func TestReleaseRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, version string
		change        func(t *testing.T, dir string)
		want          string
	}{
		{"not semver", "0.1.0", nil, "not a semantic version: give one like v0.2.0"},
		{"short semver", "v0.1", nil, "not a semantic version"},
		{"build metadata", "v0.1.0+build", nil, "not a semantic version"},
		{"word", "latest", nil, "not a semantic version"},
		{"major 2", "v2.0.0", nil, "needs new module paths ending in /v2"},
		{"dirty work tree", "v0.1.0", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "a", "new.go"), "package a\n")
		}, "uncommitted changes; commit or stash them first"},
		{"modified file", "v0.1.0", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "a", "a.go"), "package a\n")
		}, "uncommitted changes"},
		{"module missing from go.work", "v0.1.0", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "c", "go.mod"), "module "+demoPath+"/c\n\ngo 1.22\n")
			writeFile(t, filepath.Join(dir, "c", "c.go"), "package c\n")
			commitAll(t, dir, "c")
		}, "not in go.work: c; add each with go work use ./DIR"},
		{"sibling without replace", "v0.1.0", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "b", "go.mod"), "module "+demoPath+"/b\n\ngo 1.22\n\nrequire "+demoPath+"/a v0.0.0\n")
			commitAll(t, dir, "no replace")
		}, `b/go.mod requires ` + demoPath + `/a but has no "replace ` + demoPath + `/a => ../a"`},
		{"no go.work", "v0.1.0", func(t *testing.T, dir string) {
			git(t, dir, "rm", "-q", "go.work")
			git(t, dir, "commit", "-q", "-m", "no go.work")
		}, "no go.work"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := demoRepo(t)
			if tc.change != nil {
				tc.change(t, dir)
			}
			before := repoState(t, dir)
			var out bytes.Buffer
			err := release(options{Root: dir, Version: tc.version, TestCmd: demoTest, Out: &out})
			if !errors.Is(err, errRefused) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("release %s: %v; want a refusal saying %q\n%s", tc.version, err, tc.want, out.String())
			}
			if after := repoState(t, dir); after != before {
				t.Errorf("a refused release changed the repository:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}

// The first release has nothing to compare with; later ones are checked
// against the last tag: an incompatible change needs a new major version,
// new API a new minor version; a version must be above the last; failing
// tests stop a release; a dry run changes nothing.
func TestReleaseLifecycle(t *testing.T) {
	onceOnly(t)
	dir := demoRepo(t)
	gorelease(t)

	// A dry run says what it would do and does nothing.
	before := repoState(t, dir)
	out, err := runRelease(t, dir, "v0.1.0", true, demoTest)
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	for _, want := range []string{"first release", "b/v0.1.0", "a v0.0.0 -> v0.1.0", "+require " + demoPath + "/a v0.1.0", "## v0.1.0 — 2026-01-02\n\n- a says hello; b greets.\n\nTags: a/v0.1.0, b/v0.1.0.", "Nothing was changed."} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if after := repoState(t, dir); after != before {
		t.Fatalf("the dry run changed the repository:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// The first release.
	out, err = runRelease(t, dir, "v0.1.0", false, demoTest)
	if err != nil {
		t.Fatalf("first release: %v\n%s", err, out)
	}
	head := git(t, dir, "rev-parse", "HEAD")
	if s := git(t, dir, "log", "-1", "--format=%s"); s != "release: v0.1.0" {
		t.Errorf("release commit %q", s)
	}
	for _, tag := range []string{"a/v0.1.0", "b/v0.1.0"} {
		if got := git(t, dir, "rev-parse", tag+"^{commit}"); got != head {
			t.Errorf("tag %s at %s, want the release commit %s", tag, got, head)
		}
	}
	if got := git(t, dir, "tag", "--list"); got != "a/v0.1.0\nb/v0.1.0" {
		t.Errorf("tags:\n%s", got)
	}
	if st := git(t, dir, "status", "--porcelain"); st != "" {
		t.Errorf("work tree not clean after the release:\n%s", st)
	}
	checkFile(t, dir, "b/go.mod", "require "+demoPath+"/a v0.1.0", "replace "+demoPath+"/a => ../a")
	checkFile(t, dir, "a/a.go", `const Version = "0.1.0"`)
	checkFile(t, dir, "CHANGELOG.md", "## Unreleased\n\n## v0.1.0 — 2026-01-02\n\n- a says hello; b greets.\n\nTags: a/v0.1.0, b/v0.1.0.", "the first release")

	// Versions that are not above the last release.
	for _, v := range []string{"v0.1.0", "v0.0.9", "v0.1.0-rc.1"} {
		if _, err := runRelease(t, dir, v, false, demoTest); !errors.Is(err, errRefused) || !strings.Contains(err.Error(), "not greater than the last release, v0.1.0 (tag a/v0.1.0)") {
			t.Errorf("release %s after v0.1.0: %v", v, err)
		}
	}

	// An incompatible change: Hello becomes Hi.
	writeFile(t, filepath.Join(dir, "a", "a.go"), "// Package a says hello.\npackage a\n\n// Version is shown to users.\nconst Version = \"0.1.0\"\n\n// Hi says hello.\nfunc Hi() string { return \"hello\" }\n")
	writeFile(t, filepath.Join(dir, "a", "a_test.go"), "package a\n\nimport \"testing\"\n\nfunc TestHi(t *testing.T) {\n\tif Hi() != \"hello\" {\n\t\tt.Fatal(Hi())\n\t}\n}\n")
	writeFile(t, filepath.Join(dir, "b", "b.go"), "// Package b greets.\npackage b\n\nimport \""+demoPath+"/a\"\n\n// Greet greets.\nfunc Greet() string { return a.Hi() + \", world\" }\n")
	commitAll(t, dir, "a: Hello is now Hi")
	before = repoState(t, dir)
	for _, v := range []string{"v0.1.1", "v0.2.0"} {
		out, err := runRelease(t, dir, v, false, demoTest)
		if !errors.Is(err, errRefused) || !strings.Contains(err.Error(), "a: incompatible API changes in "+demoPath+"/a since v0.1.0; they need a new major version (v1.0.0)") {
			t.Errorf("release %s with an incompatible change: %v\n%s", v, err, out)
		}
		if !strings.Contains(out, "Hello: removed") {
			t.Errorf("release %s: gorelease's report is not shown:\n%s", v, out)
		}
		if after := repoState(t, dir); after != before {
			t.Fatalf("a refused release changed the repository:\nbefore:\n%s\nafter:\n%s", before, after)
		}
	}
	if out, err := runRelease(t, dir, "v1.0.0", false, demoTest); err != nil {
		t.Fatalf("v1.0.0 with an incompatible change: %v\n%s", err, out)
	}
	checkFile(t, dir, "CHANGELOG.md", "## v1.0.0 — 2026-01-02", "API against v0.1.0 (gorelease):\n\n- a: incompatible changes in "+demoPath+"/a\n- b: no API change",
		"Changes since v0.1.0:\n\n- a: Hello is now Hi (", "## v0.1.0")

	// New API: a patch release is refused, a minor one made.
	writeFile(t, filepath.Join(dir, "a", "more.go"), "package a\n\n// Bye says goodbye.\nfunc Bye() string { return \"bye\" }\n")
	commitAll(t, dir, "a: Bye")
	if out, err := runRelease(t, dir, "v1.0.1", false, demoTest); !errors.Is(err, errRefused) || !strings.Contains(err.Error(), "a: the API grew since v1.0.0; that needs a new minor version") {
		t.Errorf("v1.0.1 with new API: %v\n%s", err, out)
	}

	// A failing test stops the release; the work tree is put back.
	writeFile(t, filepath.Join(dir, "b", "b_test.go"), "package b\n\nimport \"testing\"\n\nfunc TestGreet(t *testing.T) { t.Fatal(\"broken on purpose\") }\n")
	commitAll(t, dir, "b: a failing test")
	before = repoState(t, dir)
	out, err = runRelease(t, dir, "v1.1.0", false, demoTest)
	if !errors.Is(err, errRefused) || !strings.Contains(err.Error(), "the tests failed") || !strings.Contains(out, "broken on purpose") {
		t.Errorf("release with a failing test: %v\n%s", err, out)
	}
	if after := repoState(t, dir); after != before {
		t.Fatalf("a release whose tests failed changed the repository:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	git(t, dir, "rm", "-q", "b/b_test.go")
	git(t, dir, "commit", "-q", "-m", "b: no failing test")
	if out, err := runRelease(t, dir, "v1.1.0", false, demoTest); err != nil {
		t.Fatalf("v1.1.0: %v\n%s", err, out)
	}
	checkFile(t, dir, "b/go.mod", "require "+demoPath+"/a v1.1.0")
	checkFile(t, dir, "a/a.go", `const Version = "1.1.0"`)
	checkFile(t, dir, "CHANGELOG.md", "- a: compatible additions")
}

func checkFile(t *testing.T, dir, name string, wants ...string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wants {
		if !strings.Contains(string(data), w) {
			t.Errorf("%s lacks %q:\n%s", name, w, data)
		}
	}
}

// This repository is in a state the release command accepts: every go.mod
// is in go.work, every sibling requirement has its replace directive, and
// all name one version. (A new module that misses one of these fails here,
// not on the day of a release.)
func TestRepositoryIsReleasable(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed: the release command tags with git")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	ws, err := loadWorkspace(root)
	if err != nil {
		t.Fatal(err)
	}
	if missing, err := ws.modulesMissingFromWork(); err != nil || len(missing) > 0 {
		t.Errorf("modules not in go.work: %v %v", missing, err)
	}
	if err := ws.checkReplaces(); err != nil {
		t.Error(err)
	}
	if _, err := ws.lockstepVersion(); err != nil {
		t.Error(err)
	}
}
