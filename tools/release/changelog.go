package main

import (
	"fmt"
	"strings"
)

const changelogHeader = `# Changelog

Every module of this repository is released together, at one version
(README.md, Versioning). Notes for the next release go under "Unreleased";
the release command (go run ./tools/release) moves them under the version it
releases and adds the tags, the API report and the list of changes.
`

// sectionBody is what the release command writes under a version's heading
// after the notes kept under "Unreleased".
type sectionBody struct {
	Version string
	Base    string   // the previous release, "" for the first
	Tags    []string // in the order they are made
	API     []string // one line per module
	Commits []string // subjects since Base
	Notes   string   // moved from "Unreleased"
	Date    string   // YYYY-MM-DD
}

func (b sectionBody) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "## %s — %s\n\n", b.Version, b.Date)
	if n := strings.TrimSpace(b.Notes); n != "" {
		s.WriteString(n + "\n\n")
	}
	fmt.Fprintf(&s, "Tags: %s.\n\n", strings.Join(b.Tags, ", "))
	if b.Base == "" {
		s.WriteString("API: the first release; there is no earlier version to compare with.\n")
	} else {
		fmt.Fprintf(&s, "API against %s (gorelease):\n\n", b.Base)
		for _, l := range b.API {
			s.WriteString("- " + l + "\n")
		}
	}
	if len(b.Commits) > 0 {
		fmt.Fprintf(&s, "\nChanges since %s:\n\n", b.Base)
		for _, c := range b.Commits {
			s.WriteString("- " + c + "\n")
		}
	}
	return s.String()
}

// splitUnreleased cuts the changelog around the notes under "## Unreleased":
// what comes before them (header and heading), the notes, and the rest
// (earlier releases). Without such a heading the notes are empty and the
// rest starts at the first release's heading.
func splitUnreleased(changelog string) (head, notes, rest string) {
	if strings.TrimSpace(changelog) == "" {
		return changelogHeader + "\n## Unreleased\n\n", "", ""
	}
	lines := strings.SplitAfter(changelog, "\n")
	start := -1
	for i, l := range lines {
		if strings.TrimSpace(l) == "## Unreleased" {
			start = i
			break
		}
	}
	if start < 0 {
		for i, l := range lines {
			if strings.HasPrefix(l, "## ") {
				return strings.Join(lines[:i], "") + "## Unreleased\n\n", "", strings.Join(lines[i:], "")
			}
		}
		return strings.TrimRight(changelog, "\n") + "\n\n## Unreleased\n\n", "", ""
	}
	end := len(lines)
	for i := start + 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i], "## ") {
			end = i
			break
		}
	}
	return strings.Join(lines[:start+1], "") + "\n", strings.Join(lines[start+1:end], ""), strings.Join(lines[end:], "")
}

// releaseChangelog returns the changelog with the notes under "Unreleased"
// moved into a new section for the release, and "Unreleased" left empty.
func releaseChangelog(changelog string, b sectionBody) string {
	head, notes, rest := splitUnreleased(changelog)
	b.Notes = notes
	out := head + b.String()
	if rest != "" {
		out += "\n" + rest
	}
	return out
}
