//go:build race

package websocket

// raceEnabled: the race detector's sync.Pool drops a quarter of what is
// put back, so a pooled buffer is made anew now and then.
const raceEnabled = true
