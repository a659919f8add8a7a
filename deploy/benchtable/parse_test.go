package main

import (
	"strings"
	"testing"
)

const sampleRun = `goos: linux
goarch: amd64
pkg: github.com/floorpulse/floorpulse/agent/internal/buffer
cpu: Intel(R) Xeon(R) Processor
BenchmarkBoltCommit/records=1-2         	     985	   2073339 ns/op	       482.3 commits/s	       482.3 records/s
PASS
ok  	github.com/floorpulse/floorpulse/agent/internal/buffer	10.129s
goos: linux
goarch: amd64
pkg: github.com/floorpulse/floorpulse/agent/internal/benchmark
cpu: Intel(R) Xeon(R) Processor
BenchmarkPath/bare-2         	       1	         9.000 cpu-s/M	     29208 msgs/s	        12.85 rss-MB
--- BENCH: BenchmarkPath/bare-2
    path_test.go:117: run 1: 20000 messages
BenchmarkPath/agent-2        	2026/12/07 23:00:00 some log line
       1	        15.50 cpu-s/M	         0 doubled	         0 lost	     16092 msgs/s	        27.12 rss-MB	         0.6522 x-bare
BenchmarkPath/telegraf-memory-2         	--- SKIP: BenchmarkPath/telegraf-memory
    path_test.go:170: telegraf not found
BenchmarkPath/bare-2         	       1	         8.000 cpu-s/M	     31000 msgs/s	        12.90 rss-MB
BenchmarkPath/agent-2        	--- FAIL: BenchmarkPath/agent-2
    path_test.go:125: stream holds 12001 of 20000 messages after 50s
BenchmarkPath/bare-2
       1	         8.500 cpu-s/M	     30000 msgs/s	        12.80 rss-MB
BenchmarkPath/agent-2        	       1	        14.00 cpu-s/M	         0 doubled	         0 lost	     29000 msgs/s	        23.00 rss-MB	         0.97 x-bare
BenchmarkPath/bare#01-2         	       1	         8.000 cpu-s/M	     32000 msgs/s	        12.90 rss-MB
BenchmarkPath/agent#01-2        	--- FAIL: BenchmarkPath/agent#01-2
--- FAIL: BenchmarkPath
FAIL
`

func TestParse(t *testing.T) {
	run, err := Parse(strings.NewReader(sampleRun))
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		name  string
		round int
	}
	got := map[key]Result{}
	for _, r := range run.Results {
		got[key{r.Name, r.Round}] = r
	}
	for _, tc := range []struct {
		name  string
		round int
		pkg   string
		unit  string
		want  float64
	}{
		{"BenchmarkBoltCommit/records=1", 0, "github.com/floorpulse/floorpulse/agent/internal/buffer", "commits/s", 482.3},
		{"BenchmarkPath/bare", 0, "github.com/floorpulse/floorpulse/agent/internal/benchmark", "msgs/s", 29208},
		{"BenchmarkPath/agent", 0, "github.com/floorpulse/floorpulse/agent/internal/benchmark", "msgs/s", 16092}, // split by a log line
		{"BenchmarkPath/bare", 1, "github.com/floorpulse/floorpulse/agent/internal/benchmark", "msgs/s", 31000},
		{"BenchmarkPath/bare", 2, "github.com/floorpulse/floorpulse/agent/internal/benchmark", "cpu-s/M", 8.5},  // name on a line of its own
		{"BenchmarkPath/agent", 2, "github.com/floorpulse/floorpulse/agent/internal/benchmark", "x-bare", 0.97}, // round 1 failed
		{"BenchmarkPath/bare", 3, "github.com/floorpulse/floorpulse/agent/internal/benchmark", "msgs/s", 32000}, // repeated: #01
	} {
		r, ok := got[key{tc.name, tc.round}]
		if !ok {
			t.Errorf("%s round %d: no result; have %v", tc.name, tc.round, run.Results)
			continue
		}
		if r.Pkg != tc.pkg || r.Metrics[tc.unit] != tc.want {
			t.Errorf("%s round %d: pkg %q, %s = %v; want %q, %v", tc.name, tc.round, r.Pkg, tc.unit, r.Metrics[tc.unit], tc.pkg, tc.want)
		}
	}
	if n := len(run.Results); n != 7 {
		t.Errorf("%d results, want 7: %v", n, run.Results)
	}
	for name, want := range map[string]Outcome{
		"BenchmarkPath/telegraf-memory": Skipped,
		"BenchmarkPath/agent":           Failed,
		"BenchmarkPath":                 Failed,
	} {
		if got := run.Outcomes[name]; got != want {
			t.Errorf("outcome of %s: %q, want %q", name, got, want)
		}
	}
}

// Output printed after a benchmark's name that is not a result is no
// result, and the result that follows is still found.
func TestParseSkipsOutputAfterName(t *testing.T) {
	run, err := Parse(strings.NewReader("pkg: x\nBenchmarkX-2 \t 12 things happened\n  1 \t 12 msgs/s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Results) != 1 || run.Results[0].Metrics["msgs/s"] != 12 || run.Results[0].Round != 0 {
		t.Fatalf("results %+v, want one of 12 msgs/s", run.Results)
	}
}
