package daemon

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
)

// DefaultPidFile is the pid file used when Config.PidFile is empty:
// goes-NAME-HASH.pid in os.TempDir(), where NAME is the executable's base
// name and HASH is derived from NAME and the working directory.
//
// The executable's own path is deliberately left out: "go run" builds into a
// new temporary directory every time, and the commands of one program run
// from one directory (start, then stop or reload) must find the same file.
func DefaultPidFile() string {
	name := programName()
	wd, err := os.Getwd()
	if err != nil {
		wd = "?"
	}
	sum := sha256.Sum256([]byte(wd + "\x00" + name))
	return filepath.Join(os.TempDir(), "goes-"+name+"-"+hex.EncodeToString(sum[:6])+".pid")
}

// programName is the executable's base name, reduced to safe characters.
func programName() string {
	name := "goes"
	if len(os.Args) > 0 && os.Args[0] != "" {
		name = strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe")
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, name)
}
