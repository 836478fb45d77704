package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// gorelease (golang.org/x/exp/cmd/gorelease) compares a module's API with
// an earlier release. The version is pinned: its report is parsed below.
const (
	goreleasePkg     = "golang.org/x/exp/cmd/gorelease"
	goreleaseModule  = "golang.org/x/exp"
	goreleaseVersion = "v0.0.0-20261113113407-e3970619a1a4"
)

// findGorelease returns the path of gorelease at the pinned version: the
// one on PATH or in GOBIN if it is that version, else the one it installs
// there with go install.
func findGorelease(log io.Writer) (string, error) {
	bin, err := goBin()
	if err != nil {
		return "", err
	}
	candidates := []string{filepath.Join(bin, "gorelease")}
	if p, err := exec.LookPath("gorelease"); err == nil {
		candidates = append([]string{p}, candidates...)
	}
	for _, p := range candidates {
		out, err := exec.Command("go", "version", "-m", p).Output()
		if err == nil && strings.Contains(string(out), "\tmod\t"+goreleaseModule+"\t"+goreleaseVersion+"\t") {
			return p, nil
		}
	}
	fmt.Fprintf(log, "installing gorelease: go install %s@%s\n", goreleasePkg, goreleaseVersion)
	cmd := exec.Command("go", "install", goreleasePkg+"@"+goreleaseVersion)
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w", goreleasePkg, goreleaseVersion, err)
	}
	return filepath.Join(bin, "gorelease"), nil
}

// goBin is where go install puts commands.
func goBin() (string, error) {
	bin, err := goEnv("GOBIN")
	if err != nil || bin != "" {
		return bin, err
	}
	gopath, err := goEnv("GOPATH")
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.SplitList(gopath)[0], "bin"), nil
}

// The one diagnostic that is expected: a module's go.sum holds no sums for
// the sibling modules, since its replace directives point them to their
// directories. A program that requires the module records those sums in
// its own go.sum.
const siblingSumsDiagnostic = "go.sum: one or more sums are missing. Run 'go mod tidy' to add missing sums."

// apiReport is what gorelease said about one module.
type apiReport struct {
	Output string // gorelease's report, as printed
	// Incompatible lists the importable packages with incompatible
	// changes; IgnoredMain the main packages with such changes (nothing
	// imports a main package).
	Incompatible, IgnoredMain []string
	Compatible                bool     // some importable package has compatible changes
	Problems                  []string // diagnostics and verdicts that stop the release
}

// parseGorelease reads gorelease's report. mainPkgs holds the import paths
// of the module's main packages; managed reports the changes that the
// release itself makes (a version constant's new value), which are no
// change of the API that the version number must answer for.
//
// Whether the changes fit the version is decided by the release command
// (checkAPI), the same way for v0 as for v1, so gorelease's own verdicts on
// that are left out; its other verdicts (a version that exists, packages
// that do not load) are problems.
func parseGorelease(out string, mainPkgs map[string]bool, managed func(change string) bool) apiReport {
	r := apiReport{Output: out}
	var pkg, section, sub string
	incompatible := map[string]bool{}
	lines := strings.Split(out, "\n")
	for i, line := range lines {
		switch {
		case strings.HasPrefix(line, "# "):
			section, sub = strings.TrimPrefix(line, "# "), ""
			pkg = ""
			if section != "diagnostics" && section != "summary" {
				pkg = section
			}
		case strings.HasPrefix(line, "## "):
			sub = strings.TrimPrefix(line, "## ")
			if sub == "errors in release version:" {
				r.Problems = append(r.Problems, pkg+" does not load (errors in the report)")
			}
		case pkg != "" && strings.TrimSpace(line) != "":
			switch {
			case sub == "incompatible changes" && !managed(line):
				incompatible[pkg] = true
			case sub == "compatible changes" && !mainPkgs[pkg]:
				r.Compatible = true
			}
		case section == "diagnostics" && strings.TrimSpace(line) != "":
			if line != siblingSumsDiagnostic && !strings.HasPrefix(line, "\t") {
				r.Problems = append(r.Problems, line)
			}
		case section == "summary" && strings.Contains(line, "is not a valid semantic version for this release"):
			reason := ""
			if i+1 < len(lines) {
				reason = strings.TrimSpace(lines[i+1])
			}
			if reason != "There are incompatible changes." && !strings.HasPrefix(reason, "There are compatible changes, but the minor version") {
				r.Problems = append(r.Problems, line+" "+reason)
			}
		}
	}
	for _, p := range sortedKeys(incompatible) {
		if mainPkgs[p] {
			r.IgnoredMain = append(r.IgnoredMain, p)
		} else {
			r.Incompatible = append(r.Incompatible, p)
		}
	}
	return r
}

// runGorelease checks module m of the sandbox's repository at version
// (committed there) against base ("none" for a first release).
func runGorelease(s *sandbox, gorelease string, m *module, base, version string) (apiReport, error) {
	dir := filepath.Join(s.Repo, filepath.FromSlash(m.Dir))
	mainOut, err := s.Run(dir, "go", "list", "-e", "-f", "{{if eq .Name \"main\"}}{{.ImportPath}}{{end}}", "./...")
	if err != nil {
		return apiReport{}, err
	}
	mainPkgs := map[string]bool{}
	for _, p := range strings.Fields(mainOut) {
		mainPkgs[p] = true
	}
	out, err := s.Run(dir, gorelease, "-base="+base, "-version="+version)
	// The version constants that the release sets (setVersionConsts).
	v := strings.TrimPrefix(version, "v")
	managed := func(change string) bool {
		return strings.HasPrefix(change, "Version: value changed from ") &&
			(strings.HasSuffix(change, fmt.Sprintf(" to %q", v)) || strings.HasSuffix(change, fmt.Sprintf(" to %q", "v"+v)))
	}
	r := parseGorelease(out, mainPkgs, managed)
	if err != nil && len(r.Problems) == 0 && !strings.Contains(out, "# summary") {
		// gorelease failed before it could report (it could not load the
		// module, say): that stops the release too.
		return r, err
	}
	return r, nil
}
