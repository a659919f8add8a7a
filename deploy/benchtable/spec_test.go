package main

import (
	"os"
	"strings"
	"testing"
)

// The table the Makefile uses must load.
func TestTableSpecLoads(t *testing.T) {
	data, err := os.ReadFile("table.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSpec("table.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, sec := range s.Sections {
		for _, r := range sec.Rows {
			ids[r.ID] = true
		}
	}
	// The figures the benchmarks of the whole project report, with their targets.
	for _, id := range []string{"path-agent-rate", "path-agent-cpu", "path-agent-rss", "flood-agent-direct",
		"hub-ingest-1", "hub-ingest-n", "backlog-rate", "backlog-current", "opcua-cpu", "opcua-rss",
		"plant-recompute", "plant-rss", "alert-p99", "bolt-1", "nats-publish", "nats-consume"} {
		if !ids[id] {
			t.Errorf("table.yaml has no row %q", id)
		}
	}
}

func TestParseSpecNamesEveryProblem(t *testing.T) {
	const bad = `sections:
  - title: t
    rows:
      - {id: a, label: A, bench: BenchmarkA, unit: x/s, target: ">= 1/0"}
      - {id: a, label: B, bench: NotABenchmark, unit: x/s}
      - {id: c, bench: "^Benchmark(", unit: x/s, ratio: nope, refs: [a, gone]}
      - {id: d, label: D, bench: BenchmarkD, unit: x/s, target: "ratio >= 1"}
      - {id: e, label: E, bench: BenchmarkE, unit: x/s, target: "about 3"}
`
	_, err := ParseSpec("t.yaml", []byte(bad))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"sections[0].rows[0].target", `sections[0].rows[1].id: "a" used twice`, "sections[0].rows[1].bench",
		"sections[0].rows[2].label: missing", "sections[0].rows[2].bench", `sections[0].rows[2].ratio: no row "nope"`,
		`sections[0].rows[2].refs[1]: no row "gone"`, "sections[0].rows[3].target", "sections[0].rows[4].target",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %q:\n%v", want, err)
		}
	}
}

func TestParseSpecUnknownKey(t *testing.T) {
	_, err := ParseSpec("t.yaml", []byte("sections:\n  - title: t\n    rows:\n      - {id: a, label: A, bench: BenchmarkA, unit: x, goal: 3}\n"))
	if err == nil || !strings.Contains(err.Error(), "goal") {
		t.Fatalf("err = %v, want one naming the unknown key", err)
	}
}

func TestTarget(t *testing.T) {
	for _, tc := range []struct {
		target string
		v      float64
		met    bool
	}{
		{">= 100000", 100000, true}, {">= 100000", 99999, false}, {"< 25", 24.9, true}, {"< 25", 25, false},
		{"ratio <= 1/3", 0.33, true}, {"ratio <= 1/3", 0.34, false}, {"== 0", 0, true}, {"== 0", 1, false},
		{"> 1_000", 1001, true},
	} {
		tg, err := parseTarget(tc.target)
		if err != nil {
			t.Fatalf("%q: %v", tc.target, err)
		}
		if got := tg.Met(tc.v); got != tc.met {
			t.Errorf("%q met by %v: %v, want %v", tc.target, tc.v, got, tc.met)
		}
	}
}
