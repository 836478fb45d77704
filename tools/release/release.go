package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/mod/semver"
)

// options is one run of the release command.
type options struct {
	Root      string // the repository (its top level)
	Version   string // to release, vX.Y.Z
	DryRun    bool   // print the plan; change nothing
	TestCmd   string // run by sh -c at the root; "" runs none
	Gorelease string // path of gorelease; "" finds or installs it
	Out       io.Writer
	Date      string // of the changelog section; "" is today (UTC)
}

// errRefused is wrapped by every refusal: the reason says what to do.
var errRefused = errors.New("release refused")

func refuse(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errRefused, fmt.Sprintf(format, args...))
}

// plan is what a release changes, worked out before anything changes.
type plan struct {
	ws      *workspace
	version string
	base    string            // the last release, "" for none
	baseTag string            // a tag of the last release
	prev    map[string]string // per module directory: its last version, or "" for its first release
	files   []string          // files the release commit changes, relative to the root
	api     []string          // changelog lines
	commits []string
}

// release carries out the release command.
func release(o options) (err error) {
	out := o.Out
	if _, err := exec.LookPath("git"); err != nil {
		return errors.New("git is not installed; the release command tags with git")
	}
	v := o.Version
	if !semver.IsValid(v) || semver.Canonical(v) != v || semver.Build(v) != "" {
		return refuse("%q is not a semantic version: give one like v0.2.0 (vMAJOR.MINOR.PATCH, optionally -PRERELEASE)", v)
	}
	if m := semver.Major(v); m != "v0" && m != "v1" {
		return refuse("%s: from v2 on a major version needs new module paths ending in /%s; this command releases v0 and v1", v, m)
	}
	top, err := gitOutput(o.Root, nil, "rev-parse", "--show-toplevel")
	if err != nil {
		return err
	}
	root := strings.TrimSpace(top)
	if st, err := gitOutput(root, nil, "status", "--porcelain"); err != nil {
		return err
	} else if st != "" {
		return refuse("the work tree has uncommitted changes; commit or stash them first (a release tags committed code):\n%s", strings.TrimRight(st, "\n"))
	}
	ws, err := loadWorkspace(root)
	if err != nil {
		return refuse("%v", err)
	}
	if missing, err := ws.modulesMissingFromWork(); err != nil {
		return err
	} else if len(missing) > 0 {
		return refuse("not in go.work: %s; add each with go work use ./DIR (every module is released), or remove its go.mod", strings.Join(missing, ", "))
	}
	if err := ws.checkReplaces(); err != nil {
		return refuse("%v", err)
	}
	p, err := makePlan(ws, v)
	if err != nil {
		return err
	}
	p.print(out, o)

	fmt.Fprintln(out, "\n== sandbox: the release commit and its tags in a throwaway clone")
	sb, err := newSandbox("", ws.RepoPath)
	if err != nil {
		return err
	}
	defer sb.Close()
	if err := sb.Clone(root); err != nil {
		return err
	}
	if err := p.apply(sb, out); err != nil {
		return err
	}
	if err := p.checkAPI(sb, o, out); err != nil {
		return err
	}
	if o.DryRun {
		diff, _ := sb.Git("diff", "HEAD~1", "HEAD", "--", ".")
		fmt.Fprintf(out, "\n== dry run: the release commit would change\n%s", diff)
		cl, _ := os.ReadFile(filepath.Join(root, "CHANGELOG.md"))
		b := p.section(o)
		_, b.Notes, _ = splitUnreleased(string(cl))
		fmt.Fprintf(out, "\n== dry run: CHANGELOG.md would gain (the notes under Unreleased move into it)\n%s", b.String())
		fmt.Fprintf(out, "\n== dry run: then it would run the tests (%s), commit, and tag:\n  %s\nNothing was changed.\n",
			orNone(o.TestCmd), strings.Join(p.tags(), "\n  "))
		return nil
	}

	// From here on the work tree changes; any failure puts it back.
	for _, f := range p.files {
		if err := copyFile(filepath.Join(sb.Repo, f), filepath.Join(root, f)); err != nil {
			p.restore(root)
			return err
		}
	}
	if o.TestCmd != "" {
		fmt.Fprintf(out, "\n== tests: %s\n", o.TestCmd)
		cmd := exec.Command("sh", "-c", o.TestCmd)
		cmd.Dir, cmd.Stdout, cmd.Stderr = root, out, out
		if err := cmd.Run(); err != nil {
			p.restore(root)
			return refuse("the tests failed (%s: %v, output above); fix them and run the release again. The work tree is as it was", o.TestCmd, err)
		}
	}
	cl := filepath.Join(root, "CHANGELOG.md")
	old, err := os.ReadFile(cl)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		p.restore(root)
		return err
	}
	if err := os.WriteFile(cl, []byte(releaseChangelog(string(old), p.section(o))), 0o644); err != nil {
		p.restore(root)
		return err
	}
	p.files = append(p.files, "CHANGELOG.md")
	if _, err := gitOutput(root, nil, append([]string{"add", "--"}, p.files...)...); err != nil {
		p.restore(root)
		return err
	}
	msg := fmt.Sprintf("release: %s\n\nEvery module at %s; sibling requirements name %s.\nTags: %s\n", v, v, v, strings.Join(p.tags(), " "))
	if _, err := gitOutput(root, nil, "commit", "-q", "-m", msg); err != nil {
		p.restore(root)
		return err
	}
	fmt.Fprintf(out, "\n== committed: release: %s\n== tags (dependency order)\n", v)
	for _, m := range ws.Modules {
		if _, err := gitOutput(root, nil, "tag", "-a", m.Tag(v), "-m", m.Path+" "+v); err != nil {
			return fmt.Errorf("%w (the release commit is made; make the remaining tags by hand, in this order: %s)", err, strings.Join(p.tags(), " "))
		}
		fmt.Fprintln(out, "  "+m.Tag(v))
	}
	fmt.Fprintf(out, "\nReleased %s. Nothing was pushed; to publish:\n  git push origin HEAD %s\n", v, strings.Join(p.tags(), " "))
	return nil
}

func makePlan(ws *workspace, v string) (*plan, error) {
	p := &plan{ws: ws, version: v, prev: map[string]string{}}
	released, err := ws.releasedVersions()
	if err != nil {
		return nil, err
	}
	for _, m := range ws.Modules {
		if vs := released[m.Dir]; len(vs) > 0 {
			p.prev[m.Dir] = vs[0]
			if p.base == "" || semver.Compare(vs[0], p.base) > 0 {
				p.base, p.baseTag = vs[0], m.Tag(vs[0])
			}
		}
	}
	if p.base != "" && semver.Compare(v, p.base) <= 0 {
		return nil, refuse("%s is not greater than the last release, %s (tag %s); choose a higher version", v, p.base, p.baseTag)
	}
	if p.base != "" {
		log, err := gitOutput(ws.Root, nil, "log", "--no-merges", "--format=%s (%h)", p.baseTag+"..HEAD")
		if err != nil {
			return nil, err
		}
		p.commits = strings.Split(strings.TrimSpace(log), "\n")
		if p.commits[0] == "" {
			p.commits = nil
		}
	}
	return p, nil
}

func (p *plan) tags() []string {
	var t []string
	for _, m := range p.ws.Modules {
		t = append(t, m.Tag(p.version))
	}
	return t
}

func (p *plan) print(out io.Writer, o options) {
	mode := "release"
	if o.DryRun {
		mode = "dry run (nothing changes)"
	}
	fmt.Fprintf(out, "== %s %s of %s\n", mode, p.version, p.ws.RepoPath)
	if p.base == "" {
		fmt.Fprintln(out, "first release: no earlier tag")
	} else {
		fmt.Fprintf(out, "last release: %s (%d commits since)\n", p.base, len(p.commits))
	}
	fmt.Fprintln(out, "modules, in dependency order:")
	tw := tabwriter.NewWriter(out, 0, 8, 2, ' ', 0)
	defer tw.Flush()
	for _, m := range p.ws.Modules {
		prev := p.prev[m.Dir]
		if prev == "" {
			prev = "first release"
		}
		var reqs []string
		for _, s := range sortedKeys(m.Siblings) {
			if m.Siblings[s] != p.version {
				reqs = append(reqs, fmt.Sprintf("%s %s -> %s", strings.TrimPrefix(s, p.ws.RepoPath+"/"), m.Siblings[s], p.version))
			}
		}
		line := fmt.Sprintf("  %s\tgo %s\tafter %s", m.Tag(p.version), m.Go, prev)
		if len(reqs) > 0 {
			line += "; requires " + strings.Join(reqs, ", ")
		}
		fmt.Fprintln(tw, line)
	}
}

// versionConst finds `const Version = "..."` lines, the version a program
// shows (goes prints it in start and status).
var versionConst = regexp.MustCompile(`(?m)^const Version = "(v?)[0-9][^"]*"$`)

// apply makes the release commit in the sandbox's clone: sibling
// requirements at the new version, version constants, go mod tidy in every
// module; then it tags every module there.
func (p *plan) apply(sb *sandbox, out io.Writer) error {
	v := p.version
	for _, m := range p.ws.Modules {
		dir := filepath.Join(sb.Repo, filepath.FromSlash(m.Dir))
		var args []string
		for _, s := range sortedKeys(m.Siblings) {
			args = append(args, "-require="+s+"@"+v)
		}
		if len(args) > 0 {
			if _, err := sb.Run(dir, "go", append([]string{"mod", "edit"}, args...)...); err != nil {
				return err
			}
		}
		if err := setVersionConsts(dir, strings.TrimPrefix(v, "v")); err != nil {
			return err
		}
	}
	for _, m := range p.ws.Modules {
		fmt.Fprintf(out, "go mod tidy: %s\n", m.Dir)
		if _, err := sb.Run(filepath.Join(sb.Repo, filepath.FromSlash(m.Dir)), "go", "mod", "tidy"); err != nil {
			return err
		}
	}
	if _, err := sb.Git("add", "-A"); err != nil {
		return err
	}
	if _, err := sb.Git("commit", "-q", "--allow-empty", "-m", "release: "+v); err != nil {
		return err
	}
	changed, err := sb.Git("diff", "--name-only", "HEAD~1", "HEAD")
	if err != nil {
		return err
	}
	p.files = strings.Fields(changed)
	for _, t := range p.tags() {
		if _, err := sb.Git("tag", t); err != nil {
			return err
		}
	}
	return nil
}

// setVersionConsts rewrites the version constants in the module's Go files
// (not its tests or testdata) to version (with the "v" if they had one).
func setVersionConsts(dir, version string) error {
	return filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_") || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); path != dir && err == nil {
				return filepath.SkipDir // another module
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		repl := versionConst.ReplaceAll(data, []byte(`const Version = "${1}`+version+`"`))
		if string(repl) == string(data) {
			return nil
		}
		return os.WriteFile(path, repl, 0o644)
	})
}

// checkAPI runs gorelease on every module of the release commit in the
// sandbox against the module's last release, and refuses the release on
// an incompatible change without a new major version, on compatible
// changes without a new minor version, and on any other problem gorelease
// finds.
func (p *plan) checkAPI(sb *sandbox, o options, out io.Writer) error {
	gorelease := o.Gorelease
	if gorelease == "" {
		var err error
		if gorelease, err = findGorelease(out); err != nil {
			return err
		}
	}
	var refusals []string
	for _, m := range p.ws.Modules {
		base := p.prev[m.Dir]
		label := base
		if base == "" {
			base, label = "none", "nothing (first release)"
		}
		fmt.Fprintf(out, "\n== gorelease: %s %s against %s\n", m.Dir, p.version, label)
		// gorelease refuses a version that exists: while it checks the
		// module, the module's own new tag is away.
		tag := m.Tag(p.version)
		if _, err := sb.Git("tag", "-d", tag); err != nil {
			return err
		}
		r, err := runGorelease(sb, gorelease, m, base, p.version)
		if _, terr := sb.Git("tag", tag); terr != nil && err == nil {
			err = terr
		}
		if err != nil {
			return fmt.Errorf("gorelease on %s: %w", m.Dir, err)
		}
		fmt.Fprint(out, indent(r.Output))
		if strings.Contains(r.Output, siblingSumsDiagnostic) {
			fmt.Fprintln(out, "  (expected: go.sum has no sums for sibling modules, which its replace directives point to their directories)")
		}
		for _, pr := range r.Problems {
			refusals = append(refusals, m.Dir+": "+pr)
		}
		api := m.Dir + ": "
		switch {
		case p.prev[m.Dir] == "":
			api += "first release"
		case len(r.Incompatible) > 0:
			api += "incompatible changes in " + strings.Join(r.Incompatible, ", ")
			if semver.Major(p.prev[m.Dir]) == semver.Major(p.version) {
				refusals = append(refusals, fmt.Sprintf("%s: incompatible API changes in %s since %s; they need a new major version (%s), or restore compatibility",
					m.Dir, strings.Join(r.Incompatible, ", "), p.prev[m.Dir], nextMajor(p.prev[m.Dir])))
			}
		case r.Compatible:
			api += "compatible additions"
			if semver.MajorMinor(p.prev[m.Dir]) == semver.MajorMinor(p.version) {
				refusals = append(refusals, fmt.Sprintf("%s: the API grew since %s; that needs a new minor version, not a patch", m.Dir, p.prev[m.Dir]))
			}
		default:
			api += "no API change"
		}
		if len(r.IgnoredMain) > 0 {
			fmt.Fprintf(out, "  (changes in main packages ignored: nothing imports %s)\n", strings.Join(r.IgnoredMain, ", "))
		}
		p.api = append(p.api, api)
	}
	if len(refusals) > 0 {
		return refuse("gorelease found problems (reports above); nothing was changed:\n%s", strings.Join(refusals, "\n"))
	}
	return nil
}

func nextMajor(v string) string {
	var major int
	fmt.Sscanf(semver.Major(v), "v%d", &major)
	return fmt.Sprintf("v%d.0.0", major+1)
}

func (p *plan) section(o options) sectionBody {
	date := o.Date
	if date == "" {
		date = time.Now().UTC().Format("2006-01-02")
	}
	return sectionBody{Version: p.version, Base: p.base, Tags: p.tags(), API: p.api, Commits: p.commits, Date: date}
}

// restore puts the files the release changed back as they were committed.
func (p *plan) restore(root string) {
	for _, f := range append(p.files, "CHANGELOG.md") {
		if _, err := gitOutput(root, nil, "checkout", "HEAD", "--", f); err != nil {
			// Not in HEAD: the release made it.
			os.Remove(filepath.Join(root, f))
		}
	}
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ") + "\n"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
