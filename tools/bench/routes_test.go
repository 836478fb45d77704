package main

import "testing"

func TestParseRedisCSV(t *testing.T) {
	out := `"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
"SET","68027.21","3.355","0.208","0.559","15.863","154.367","154.751"
"GET","92592.59","2.425","0.128","0.519","14.479","43.967","47.423"
`
	rps, err := parseRedisCSV(out)
	if err != nil || rps["SET"] != 68027.21 || rps["GET"] != 92592.59 {
		t.Fatalf("%v, %v", rps, err)
	}
	for _, bad := range []string{"", `"SET","68027.21"`, `"SET","x"` + "\n" + `"GET","1"`, "ERROR: connection refused"} {
		if _, err := parseRedisCSV(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
