package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// Result is one benchmark result line: a name, its package, which round
// (the how-manieth time this name appeared in the run: with -count N each
// appears N times) and the metrics it reported, by unit.
type Result struct {
	Pkg     string
	Name    string // without the -GOMAXPROCS suffix
	Round   int    // 0-based
	N       int64
	Metrics map[string]float64
}

// Outcome is what became of a benchmark that printed no result: it failed
// or was skipped.
type Outcome string

const (
	Failed  Outcome = "failed"
	Skipped Outcome = "skipped"
)

// Run is the parsed output of `go test -bench` over one or more packages.
type Run struct {
	Results  []Result
	Outcomes map[string]Outcome // by name, for benchmarks that failed or were skipped
}

var (
	// A result: name, iterations, then value-unit pairs. The name may stand
	// alone on a line when the benchmark printed something before its result.
	resultLine = regexp.MustCompile(`^(Benchmark\S*?)(?:-\d+)?\s+(\d+)\s+(.*)$`)
	// A name followed by anything else: the result comes on a later line.
	nameLine = regexp.MustCompile(`^(Benchmark\S*?)(?:-\d+)?(?:\s|$)`)
	// The rest of a result whose name was printed on an earlier line.
	restLine    = regexp.MustCompile(`^\s*(\d+)\s+([-+0-9.eE]+ \S+.*)$`)
	outcomeLine = regexp.MustCompile(`^\s*--- (FAIL|SKIP): (Benchmark\S*?)(?:-\d+)?(?:\s|$)`)
)

// Parse reads `go test -bench` output. It understands the standard result
// line (https://go.dev/design/14313-benchmark-format), the "pkg:" lines
// that say which package the results below belong to, a result split from
// its name by output printed in between, the "--- FAIL" and "--- SKIP"
// lines of benchmarks that gave no result, and the #01, #02 suffixes of a
// sub-benchmark run again in a later round.
func Parse(r io.Reader) (*Run, error) {
	run := &Run{Outcomes: map[string]Outcome{}}
	// The round of a result is how many times its name was printed before:
	// Go prints a benchmark's name as it starts, so a round that failed
	// still counts, and the rounds of different benchmarks stay aligned.
	seen := map[string]int{}
	var pkg, pending string
	var round int
	start := func(name string) {
		name = baseName(name)
		key := pkg + " " + name
		pending, round = name, seen[key]
		seen[key]++
	}
	add := func(name, iters, rest string, line int) error {
		n, err := strconv.ParseInt(iters, 10, 64)
		if err != nil {
			return fmt.Errorf("line %d: iterations %q: %w", line, iters, err)
		}
		metrics, err := parseMetrics(rest)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		run.Results = append(run.Results, Result{Pkg: pkg, Name: baseName(name), Round: round, N: n, Metrics: metrics})
		return nil
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.HasPrefix(text, "pkg: "):
			pkg, pending = strings.TrimSpace(strings.TrimPrefix(text, "pkg: ")), ""
		case resultLine.MatchString(text):
			m := resultLine.FindStringSubmatch(text)
			start(m[1])
			if _, err := parseMetrics(m[3]); err != nil {
				continue // a name, then printed output that starts with a number
			}
			if err := add(m[1], m[2], m[3], line); err != nil {
				return nil, err
			}
			pending = ""
		case nameLine.MatchString(text):
			start(nameLine.FindStringSubmatch(text)[1])
		case pending != "" && restLine.MatchString(text):
			m := restLine.FindStringSubmatch(text)
			if err := add(pending, m[1], m[2], line); err != nil {
				return nil, err
			}
			pending = ""
		}
		if m := outcomeLine.FindStringSubmatch(text); m != nil {
			o := Failed
			if m[1] == "SKIP" {
				o = Skipped
			}
			run.Outcomes[baseName(m[2])] = o
		} else if i := strings.Index(text, "\t--- "); i > 0 {
			if m := outcomeLine.FindStringSubmatch(text[i+1:]); m != nil {
				o := Failed
				if m[1] == "SKIP" {
					o = Skipped
				}
				run.Outcomes[baseName(m[2])] = o
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return run, nil
}

// repeated is the suffix Go gives a sub-benchmark run again under the same
// name (BenchmarkPath/bare#01): a later round of the same benchmark.
var repeated = regexp.MustCompile(`#\d+$`)

func baseName(name string) string { return repeated.ReplaceAllString(name, "") }

// parseMetrics parses "1.5 msgs/s  12 rss-MB ..." into units and values.
func parseMetrics(s string) (map[string]float64, error) {
	f := strings.Fields(s)
	if len(f)%2 != 0 {
		return nil, fmt.Errorf("metrics %q: not value-unit pairs", s)
	}
	out := make(map[string]float64, len(f)/2)
	for i := 0; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return nil, fmt.Errorf("metric value %q: %w", f[i], err)
		}
		out[f[i+1]] = v
	}
	return out, nil
}
