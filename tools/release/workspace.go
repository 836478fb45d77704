package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// module is one module of the workspace.
type module struct {
	Dir  string // slash-separated, relative to the repository root; "." for the root
	Path string // module path from go.mod
	Go   string // go directive
	// Siblings maps the path of every sibling module this one requires
	// (directly or as // indirect) to the version it names.
	Siblings map[string]string
	// Replaced maps a sibling's path to the directory (relative to the
	// repository root) that a replace directive points it to.
	Replaced map[string]string
}

// Tag is the tag that releases the module at version v: DIR/vX.Y.Z, or
// vX.Y.Z for a module at the repository root.
func (m *module) Tag(v string) string {
	if m.Dir == "." {
		return v
	}
	return m.Dir + "/" + v
}

// workspace is the repository's modules, as its go.work lists them.
type workspace struct {
	Root     string    // repository root, absolute
	RepoPath string    // module path of the repository root, e.g. github.com/shunhui19/goes
	Modules  []*module // dependency order: every module after the siblings it requires
}

// loadWorkspace reads go.work at root and the go.mod of every module it uses.
func loadWorkspace(root string) (*workspace, error) {
	data, err := os.ReadFile(filepath.Join(root, "go.work"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no go.work in %s: the modules to release are the ones go.work uses", root)
	}
	if err != nil {
		return nil, err
	}
	wf, err := modfile.ParseWork("go.work", data, nil)
	if err != nil {
		return nil, err
	}
	ws := &workspace{Root: root}
	byPath := map[string]*module{}
	for _, u := range wf.Use {
		dir := path.Clean(filepath.ToSlash(u.Path))
		if path.IsAbs(dir) || dir == ".." || strings.HasPrefix(dir, "../") {
			return nil, fmt.Errorf("go.work uses %s, which is outside the repository", u.Path)
		}
		m, err := readModule(root, dir)
		if err != nil {
			return nil, err
		}
		repo := m.Path
		if dir != "." {
			if !strings.HasSuffix(m.Path, "/"+dir) {
				return nil, fmt.Errorf("%s/go.mod: module %s should end in /%s, its directory, so that its tags can be %s/vX.Y.Z", dir, m.Path, dir, dir)
			}
			repo = strings.TrimSuffix(m.Path, "/"+dir)
		}
		if ws.RepoPath == "" {
			ws.RepoPath = repo
		} else if ws.RepoPath != repo {
			return nil, fmt.Errorf("%s/go.mod: module %s is not under %s like the other modules", dir, m.Path, ws.RepoPath)
		}
		byPath[m.Path] = m
		ws.Modules = append(ws.Modules, m)
	}
	if len(ws.Modules) == 0 {
		return nil, errors.New("go.work uses no module")
	}
	for _, m := range ws.Modules {
		for p := range m.Siblings {
			if byPath[p] == nil {
				delete(m.Siblings, p) // a module of the same repository that go.work does not use: not ours to release
			}
		}
		for p := range m.Replaced {
			if byPath[p] == nil {
				delete(m.Replaced, p)
			}
		}
	}
	ws.Modules = dependencyOrder(ws.Modules, byPath)
	return ws, nil
}

func readModule(root, dir string) (*module, error) {
	file := path.Join(dir, "go.mod")
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
	if err != nil {
		return nil, fmt.Errorf("go.work uses %s: %w", dir, err)
	}
	f, err := modfile.Parse(file, data, nil)
	if err != nil {
		return nil, err
	}
	if f.Module == nil {
		return nil, fmt.Errorf("%s: no module line", file)
	}
	m := &module{Dir: dir, Path: f.Module.Mod.Path, Siblings: map[string]string{}, Replaced: map[string]string{}}
	if f.Go != nil {
		m.Go = f.Go.Version
	}
	for _, r := range f.Require {
		m.Siblings[r.Mod.Path] = r.Mod.Version // trimmed to the workspace's modules by loadWorkspace
	}
	for _, r := range f.Replace {
		if r.Old.Version == "" && modfile.IsDirectoryPath(r.New.Path) && !filepath.IsAbs(r.New.Path) {
			m.Replaced[r.Old.Path] = path.Join(dir, filepath.ToSlash(r.New.Path))
		}
	}
	return m, nil
}

// dependencyOrder sorts modules so that each comes after the siblings it
// requires; among modules free to go next the one first by directory goes
// first. Go allows cycles between modules: a cycle is broken at the module
// first by directory.
func dependencyOrder(mods []*module, byPath map[string]*module) []*module {
	sort.Slice(mods, func(i, j int) bool { return mods[i].Dir < mods[j].Dir })
	done := map[*module]bool{}
	var out []*module
	for len(out) < len(mods) {
		var next *module
		for _, m := range mods {
			if done[m] {
				continue
			}
			ready := true
			for p := range m.Siblings {
				if s := byPath[p]; s != m && !done[s] {
					ready = false
					break
				}
			}
			if ready {
				next = m
				break
			}
		}
		if next == nil { // a cycle
			for _, m := range mods {
				if !done[m] {
					next = m
					break
				}
			}
		}
		done[next] = true
		out = append(out, next)
	}
	return out
}

// module returns the module with the given path, or nil.
func (ws *workspace) module(modPath string) *module {
	for _, m := range ws.Modules {
		if m.Path == modPath {
			return m
		}
	}
	return nil
}

// checkReplaces reports every sibling requirement without a relative
// replace directive to the sibling's directory: without one, GOWORK=off
// builds in the repository would fetch the sibling's release instead of
// using its code at the same commit.
func (ws *workspace) checkReplaces() error {
	var bad []string
	for _, m := range ws.Modules {
		for _, p := range sortedKeys(m.Siblings) {
			s := ws.module(p)
			if s == m {
				continue
			}
			if got, ok := m.Replaced[p]; !ok || got != s.Dir {
				rel, _ := filepath.Rel(filepath.FromSlash(m.Dir), filepath.FromSlash(s.Dir))
				bad = append(bad, fmt.Sprintf("%s/go.mod requires %s but has no \"replace %s => %s\"", m.Dir, p, p, filepath.ToSlash(rel)))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%s\n(the relative replace directives keep GOWORK=off builds on the code of this commit; add them with go mod edit -replace)", strings.Join(bad, "\n"))
	}
	return nil
}

// lockstepVersion returns the one version at which the modules require
// each other. It is an error for two requirements to name different
// versions: every module is released at the same version.
func (ws *workspace) lockstepVersion() (string, error) {
	uses := map[string][]string{} // version -> "a requires b"
	for _, m := range ws.Modules {
		for _, p := range sortedKeys(m.Siblings) {
			if p != m.Path {
				uses[m.Siblings[p]] = append(uses[m.Siblings[p]], fmt.Sprintf("%s requires %s %s", m.Dir, p, m.Siblings[p]))
			}
		}
	}
	switch len(uses) {
	case 0:
		return "", errors.New("no module of the workspace requires another: nothing names a version")
	case 1:
		for v := range uses {
			return v, nil
		}
	}
	var lines []string
	for _, v := range sortedKeys(uses) {
		lines = append(lines, uses[v]...)
	}
	return "", fmt.Errorf("the modules require each other at different versions; every module is released at one version, so set these to the others' (go mod edit -require=PATH@VERSION; go run ./tools/release sets them all at a release):\n%s", strings.Join(lines, "\n"))
}

// modulesMissingFromWork lists the go.mod files of the repository (tracked,
// or new and not ignored) whose module go.work does not use.
func (ws *workspace) modulesMissingFromWork() ([]string, error) {
	out, err := gitOutput(ws.Root, nil, "ls-files", "--cached", "--others", "--exclude-standard")
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, m := range ws.Modules {
		used[m.Dir] = true
	}
	seen := map[string]bool{}
	var missing []string
	for _, f := range strings.Split(out, "\n") {
		if path.Base(f) != "go.mod" || ignoredByGo(f) {
			continue
		}
		dir := path.Dir(f)
		if !used[dir] && !seen[dir] {
			if _, err := os.Stat(filepath.Join(ws.Root, filepath.FromSlash(f))); err == nil {
				missing = append(missing, dir)
			}
			seen[dir] = true
		}
	}
	sort.Strings(missing)
	return missing, nil
}

// ignoredByGo reports whether the go command ignores the file's directory
// as a module or package (testdata, vendor, names starting with . or _).
func ignoredByGo(file string) bool {
	for _, e := range strings.Split(path.Dir(file), "/") {
		if e == "testdata" || e == "vendor" || e == "node_modules" || (e != "." && (strings.HasPrefix(e, ".") || strings.HasPrefix(e, "_"))) {
			return true
		}
	}
	return false
}

// releasedVersions returns, per module directory, the versions its tags
// name, highest first.
func (ws *workspace) releasedVersions() (map[string][]string, error) {
	out, err := gitOutput(ws.Root, nil, "tag", "--list")
	if err != nil {
		return nil, err
	}
	got := map[string][]string{}
	for _, tag := range strings.Fields(out) {
		for _, m := range ws.Modules {
			v, ok := strings.CutPrefix(tag, m.Tag(""))
			if ok && semver.IsValid(v) && semver.Canonical(v) == v {
				got[m.Dir] = append(got[m.Dir], v)
			}
		}
	}
	for _, vs := range got {
		sort.Slice(vs, func(i, j int) bool { return semver.Compare(vs[i], vs[j]) > 0 })
	}
	return got, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
