//go:build race

package metrics_test

// raceEnabled: the race detector slows the scrape about tenfold.
const raceEnabled = true
