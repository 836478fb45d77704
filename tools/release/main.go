// Command release releases every module of the repository's go.work at one
// version:
//
//	go run ./tools/release -n v0.3.0   # dry run: print the plan, change nothing
//	go run ./tools/release v0.3.0      # release
//
// It refuses, saying what to do, on a dirty work tree, a version that is
// not semver or not above the last release, a module whose go.mod is not
// in go.work, a sibling requirement without its relative replace, an API
// change that the version does not allow, and failing tests. Otherwise:
//
//  1. In a throwaway clone (the user's repository, module cache and git
//     config stay as they are), it sets every requirement on a sibling
//     module to the new version (go mod edit), sets `const Version` lines,
//     runs go mod tidy in every module, commits and tags.
//  2. It runs gorelease (golang.org/x/exp/cmd/gorelease, installed with go
//     install at a pinned version if missing) on every module against the
//     module's last tag, the go command fetching the repository's modules
//     from the clone. An incompatible API change stops the release unless
//     the major version changes; new API stops a patch release. A first
//     release has nothing to compare with: its report only checks the
//     module.
//  3. It copies the changed go.mod and go.sum files into the work tree and
//     runs the tests (-test, default "make test"); on failure it puts the
//     work tree back.
//  4. It moves the notes under "Unreleased" in CHANGELOG.md into a section
//     for the version, with the tags, the API report and the commits since
//     the last release, commits "release: vX.Y.Z", and makes an annotated
//     tag DIR/vX.Y.Z for every module in dependency order.
//
// It never pushes.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
)

func main() {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	dry := fs.Bool("n", false, "dry run: check, build the release in a throwaway clone, print the plan; change nothing")
	test := fs.String("test", "make test", "test command, run with sh -c at the repository root (\"\" runs none)")
	dir := fs.String("C", ".", "the repository")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: go run ./tools/release [-n] [-test CMD] [-C DIR] vX.Y.Z")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if fs.NArg() != 1 {
		fs.Usage()
		os.Exit(2)
	}
	err := release(options{Root: *dir, Version: fs.Arg(0), DryRun: *dry, TestCmd: *test, Out: os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		if errors.Is(err, errRefused) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
