package daemon

import "sync/atomic"

// reloads is what Reloads returns; set once, when a reload starts the
// process.
var reloads atomic.Int64

// Reloads returns how many reloads led to this process: 0 for a process
// started anew, one more than its predecessor's for a process started by
// reload. Safe for concurrent use.
func Reloads() int64 { return reloads.Load() }
