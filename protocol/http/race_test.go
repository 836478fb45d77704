//go:build race

package http_test

// raceEnabled: the race detector's sync.Pool drops a quarter of what is
// put back, so a pooled exchange is made anew now and then.
const raceEnabled = true
