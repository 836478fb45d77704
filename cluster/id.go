package cluster

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
)

// MaxNameLen is the longest uid or group name, in bytes.
const MaxNameLen = 256

// ClientID names one connection in the whole cluster: the id of the node
// that holds it, '-', and the connection's id in that process
// (core.Connection.GetID). It is a plain string, fit for JSON and URLs.
type ClientID string

func makeClientID(node string, conn int) ClientID {
	return ClientID(node + "-" + strconv.Itoa(conn))
}

// Node returns the id of the node holding the client, or "" if id is
// malformed.
func (id ClientID) Node() string {
	node, _, ok := id.split()
	if !ok {
		return ""
	}
	return node
}

func (id ClientID) split() (node string, conn int, ok bool) {
	i := strings.LastIndexByte(string(id), '-')
	if i <= 0 || !validNodeID(string(id[:i])) {
		return "", 0, false
	}
	n, err := strconv.Atoi(string(id[i+1:]))
	if err != nil || n < 0 || strconv.Itoa(n) != string(id[i+1:]) {
		return "", 0, false
	}
	return string(id[:i]), n, true
}

// validNodeID: 1 to 64 of [A-Za-z0-9_], so that it is one NATS subject
// token and contains no '-'.
func validNodeID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func randomNodeID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func validName(s string) bool { return s != "" && len(s) <= MaxNameLen }

// token turns a uid or group name into one subject token: any bytes are
// allowed in names, while subjects forbid '.', '*', '>' and spaces.
func token(name string) string { return base64.RawURLEncoding.EncodeToString([]byte(name)) }
