package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// sandbox is a temporary place where the go command sees a throwaway git
// copy of the repository as the repository's real address: the go command
// fetches the repository's modules from that copy through git (a private
// git config maps https://REPO to it), other modules from the module proxy,
// into a private module cache. Nothing outside the sandbox's directory
// changes: not the user's git config, module cache, or repository.
type sandbox struct {
	Dir  string   // the sandbox; removed by Close
	Repo string   // the throwaway repository
	Env  []string // environment for go and git commands in the sandbox
}

// newSandbox makes a sandbox in a new temporary directory under parent
// ("" for the system's) for the repository whose root module path is
// repoPath (github.com/OWNER/NAME: the go command maps such paths to git
// without asking a server).
func newSandbox(parent, repoPath string) (*sandbox, error) {
	if !strings.HasPrefix(repoPath, "github.com/") || strings.Count(repoPath, "/") != 2 {
		return nil, fmt.Errorf("module path %s: the sandbox serves repositories at github.com/OWNER/NAME only", repoPath)
	}
	if _, err := exec.LookPath("git"); err != nil {
		return nil, errors.New("git is not installed")
	}
	// What the user's go command would use for everything else.
	proxy, err := goEnv("GOPROXY")
	if err != nil {
		return nil, err
	}
	sumdb, _ := goEnv("GOSUMDB")
	modcache, _ := goEnv("GOMODCACHE")

	dir, err := os.MkdirTemp(parent, "goes-release-")
	if err != nil {
		return nil, err
	}
	s := &sandbox{Dir: dir, Repo: filepath.Join(dir, "repo")}
	gitconfig := filepath.Join(dir, "gitconfig")
	repoURL := (&url.URL{Scheme: "file", Path: s.Repo}).String()
	cfg := fmt.Sprintf(`[user]
	name = goes release
	email = release@localhost
[init]
	defaultBranch = main
[commit]
	gpgSign = false
[tag]
	gpgSign = false
[protocol "file"]
	allow = always
[url %q]
	insteadOf = https://%s
`, repoURL, repoPath)
	if err := os.WriteFile(gitconfig, []byte(cfg), 0o644); err != nil {
		s.Close()
		return nil, err
	}
	// Modules the user's machine already has come from its module cache
	// (read as a file proxy, never written), the rest from the user's proxy.
	if modcache != "" {
		if fi, err := os.Stat(filepath.Join(modcache, "cache", "download")); err == nil && fi.IsDir() {
			seed := (&url.URL{Scheme: "file", Path: filepath.Join(modcache, "cache", "download")}).String()
			proxy = seed + "," + proxy
		}
	}
	s.Env = append(cleanEnv(os.Environ()),
		"GOENV=off", // settings of `go env -w` stay out; what matters is set here
		"GOWORK=off",
		"GOTOOLCHAIN=local",
		"GOFLAGS=-modcacherw", // so that the sandbox can be removed
		"GOMODCACHE="+filepath.Join(dir, "modcache"),
		"GOPROXY="+proxy,
		"GOSUMDB="+sumdb,
		"GOPRIVATE="+repoPath, // straight to git, and no checksum database
		"GONOPROXY="+repoPath,
		"GONOSUMDB="+repoPath,
		"GIT_CONFIG_GLOBAL="+gitconfig,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
	)
	return s, nil
}

// cleanEnv drops the variables that the sandbox sets and those that would
// point git at another repository.
func cleanEnv(env []string) []string {
	drop := map[string]bool{}
	for _, k := range []string{"GOENV", "GOWORK", "GOTOOLCHAIN", "GOFLAGS", "GOMODCACHE", "GOPROXY", "GOSUMDB",
		"GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GOINSECURE", "GOPATH", "GOBIN", "GO111MODULE",
		"GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG", "GIT_CONFIG_COUNT", "GIT_DIR", "GIT_WORK_TREE",
		"GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR",
		"GIT_CEILING_DIRECTORIES", "GIT_TERMINAL_PROMPT"} {
		drop[k] = true
	}
	var out []string
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if drop[k] || strings.HasPrefix(k, "GIT_CONFIG_KEY_") || strings.HasPrefix(k, "GIT_CONFIG_VALUE_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// Close removes the sandbox.
func (s *sandbox) Close() error { return os.RemoveAll(s.Dir) }

// Run runs a command in dir (relative to the sandbox, or absolute) with the
// sandbox's environment and returns its combined output.
func (s *sandbox) Run(dir, name string, args ...string) (string, error) {
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(s.Dir, dir)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(s.Env, "GOPATH="+filepath.Join(s.Dir, "gopath")) // its own: nothing lands in the user's
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		err = fmt.Errorf("%s %s (in %s): %w\n%s", name, strings.Join(args, " "), dir, err, strings.TrimSpace(out.String()))
	}
	return out.String(), err
}

// Git runs git in the throwaway repository.
func (s *sandbox) Git(args ...string) (string, error) { return s.Run(s.Repo, "git", args...) }

// CopyWorkTree makes the throwaway repository from the files of the work
// tree at root as they are now (tracked ones, and new ones git does not
// ignore), committed as one commit: what is tested is what is on disk,
// whether committed yet or not.
func (s *sandbox) CopyWorkTree(root string) error {
	out, err := gitOutput(root, nil, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		return err
	}
	for _, f := range strings.Split(out, "\x00") {
		if f == "" {
			continue
		}
		if err := copyFile(filepath.Join(root, filepath.FromSlash(f)), filepath.Join(s.Repo, filepath.FromSlash(f))); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // deleted in the work tree
			}
			return err
		}
	}
	if _, err := s.Git("init", "-q"); err != nil {
		return err
	}
	if _, err := s.Git("add", "-A"); err != nil {
		return err
	}
	_, err = s.Git("commit", "-q", "-m", "work tree")
	return err
}

// Clone makes the throwaway repository a clone of the repository at root:
// its history, its tags, and the commit checked out at root.
func (s *sandbox) Clone(root string) error {
	if _, err := s.Run(s.Dir, "git", "clone", "-q", "--no-hardlinks", root, s.Repo); err != nil {
		return err
	}
	head, err := gitOutput(root, nil, "rev-parse", "HEAD")
	if err != nil {
		return err
	}
	_, err = s.Git("checkout", "-q", "--detach", strings.TrimSpace(head))
	return err
}

func copyFile(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// goEnv returns the go command's value for one variable.
func goEnv(name string) (string, error) {
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("go env %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// gitOutput runs git in dir with the environment env (nil: this process's)
// and returns its standard output.
func gitOutput(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}
