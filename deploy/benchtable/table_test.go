package main

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

const testSpec = `sections:
  - title: Path
    rows:
      - {id: bare, label: "bare subscriber, QoS 1", bench: BenchmarkPath/bare, unit: msgs/s}
      - {id: agent, label: agent, bench: BenchmarkPath/agent, unit: msgs/s, ratio: bare, target: "ratio >= 1", refs: [pub]}
      - {id: agent-rss, label: agent RSS, bench: BenchmarkPath/agent, unit: rss-MB, target: "< 25"}
      - {id: tg, label: Telegraf, bench: BenchmarkPath/telegraf-memory, unit: msgs/s}
      - {id: gone, label: not there, bench: BenchmarkPlantRSS, unit: rss-MB}
      - {id: nometric, label: no metric, bench: BenchmarkPath/bare, unit: lost}
      - {id: ingest, label: partitioned, bench: "^BenchmarkHubIngest/partitions=([2-9]|[1-9][0-9]+)$", unit: signals/s, target: ">= 100000"}
      - {id: pub, label: "raw publish", bench: BenchmarkNATSPublish, unit: msgs/s}
      - {id: alert, label: alert, bench: "^Benchmark(Downtime)?AlertLatency$", unit: "p99-ms|p99_ms"}
`

const testRun = `pkg: example.com/x/agent/internal/benchmark
BenchmarkPath/bare-2 	 1 	 30000 msgs/s 	 12 rss-MB
BenchmarkPath/agent-2 	 1 	 27000 msgs/s 	 23 rss-MB
BenchmarkPath/telegraf-memory-2 	--- SKIP: BenchmarkPath/telegraf-memory
BenchmarkPath/bare-2 	 1 	 20000 msgs/s 	 12 rss-MB
BenchmarkPath/agent-2 	 1 	 21000 msgs/s 	 26 rss-MB
BenchmarkPath/bare-2 	 1 	 25000 msgs/s 	 12 rss-MB
BenchmarkPath/agent-2 	 1 	 25500 msgs/s 	 24 rss-MB
BenchmarkNATSPublish-2 	 200000 	 5000 ns/op 	 40000 msgs/s
pkg: example.com/x/hub/internal/app
BenchmarkHubIngest/partitions=1-2 	 1 	 14000 signals/s
BenchmarkHubIngest/partitions=4-2 	 1 	 19800 signals/s
BenchmarkDowntimeAlertLatency-2 	 1 	 334 p99_ms
`

func build(t *testing.T) *Table {
	t.Helper()
	spec, err := ParseSpec("t.yaml", []byte(testSpec))
	if err != nil {
		t.Fatal(err)
	}
	run, err := Parse(strings.NewReader(testRun))
	if err != nil {
		t.Fatal(err)
	}
	return Build(spec, run)
}

func row(t *testing.T, tb *Table, id string) Figure {
	t.Helper()
	for _, sec := range tb.Sections {
		for _, f := range sec.Rows {
			if f.ID == id {
				return f
			}
		}
	}
	t.Fatalf("no row %s", id)
	return Figure{}
}

func TestBuild(t *testing.T) {
	tb := build(t)
	agent := row(t, tb, "agent")
	if agent.Status != StatusOK || agent.Stat.Median != 25500 || agent.Stat.Min != 21000 || agent.Stat.Max != 27000 || agent.Stat.N != 3 {
		t.Errorf("agent: %+v %+v", agent, agent.Stat)
	}
	// Round by round: 0.9, 1.05, 1.02; median 1.02.
	if agent.Ratio == nil || math.Abs(agent.Ratio.Stat.Median-1.02) > 1e-9 || math.Abs(agent.Ratio.Stat.Min-0.9) > 1e-9 {
		t.Errorf("agent ratio: %+v", agent.Ratio)
	}
	if agent.Met == nil || !*agent.Met {
		t.Errorf("agent target: %v, want met (median ratio 1.02 >= 1)", agent.Met)
	}
	if rss := row(t, tb, "agent-rss"); rss.Met == nil || !*rss.Met || rss.Stat.Median != 24 {
		t.Errorf("agent RSS: %+v", rss)
	}
	for id, want := range map[string]string{"tg": "skipped", "gone": StatusNotRun, "nometric": StatusNoValue} {
		f := row(t, tb, id)
		if f.Status != want || f.Stat != nil || f.Met != nil {
			t.Errorf("%s: status %q, stat %v, met %v; want %q and nothing else", id, f.Status, f.Stat, f.Met, want)
		}
	}
	if a := row(t, tb, "alert"); a.Stat == nil || a.Stat.Median != 334 || a.Unit != "p99_ms" {
		t.Errorf("alert latency, reported in the second unit: %+v", a)
	}
	in := row(t, tb, "ingest")
	if in.Bench != "BenchmarkHubIngest/partitions=4" || in.Stat.Median != 19800 || in.Met == nil || *in.Met {
		t.Errorf("partitioned ingest: %+v", in)
	}
}

func TestMarkdown(t *testing.T) {
	tb := build(t)
	tb.Date, tb.Commit, tb.Command = "2026-12-07 23:00 UTC", "abc123", "make bench"
	tb.Machine = Machine{CPU: "Test CPU", Cores: 2, RAMGB: 8.3, Kernel: "6.1", Go: "go1.26"}
	md := tb.Markdown()
	for _, want := range []string{
		"Measured 2026-12-07 23:00 UTC at commit abc123 with `make bench`.",
		"Test CPU, 2 cores, 8.3 GB RAM, Linux 6.1, go1.26",
		"### Path",
		"| agent | 25,500 (21,000 - 27,000) msgs/s | 1.02 (0.90 - 1.05) x bare subscriber | ratio >= 1 | met | raw publish: 40,000 msgs/s (this is 0.64 of it) |",
		"| Telegraf | skipped |",
		"| not there | not run |",
		"| partitioned | 19,800 signals/s |  | >= 100000 | **missed** |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	b, err := json.Marshal(tb)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"status":"not run"`) || !strings.Contains(string(b), `"commit":"abc123"`) {
		t.Errorf("json: %s", b)
	}
}

func TestNum(t *testing.T) {
	for v, want := range map[float64]string{29900: "29,900", 1234567.4: "1,234,567", 303.4: "303", 0.934: "0.93", 0.0123: "0.012", 1.08: "1.08", 0: "0", 3: "3", 15.04: "15.0", -2500: "-2,500"} {
		if got := Num(v); got != want {
			t.Errorf("Num(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestSplice(t *testing.T) {
	doc := "# B\n\nprose\n\n<!-- results begin -->\nold\n<!-- results end -->\n\nmore\n"
	got, err := Splice(doc, "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "# B\n\nprose\n\n<!-- results begin -->\nnew table\n<!-- results end -->\n\nmore\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := Splice("no markers", "x"); err == nil {
		t.Error("no error without markers")
	}
}
