package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/influx"
	"github.com/floorpulse/floorpulse/hub/internal/recompute"
	"github.com/floorpulse/floorpulse/hub/internal/report"
	"github.com/floorpulse/floorpulse/hub/internal/segment"
	"github.com/floorpulse/floorpulse/hub/internal/store"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// plant is a hub configuration file and a state store holding October 2026
// of line L1: M01 runs 50 h (operators a and b), M02 runs 10 h (operator
// b), M03 never reports.
type plant struct {
	dir, cfgPath string
	influxURL    string
}

func (p plant) writeConfig(t *testing.T, threshold string) {
	t.Helper()
	text := fmt.Sprintf(`site: s1
timezone: Europe/Berlin
data_dir: %s
http: 127.0.0.1:0
influx: {url: %q, bucket: floorpulse/autogen}
state: {signal_timeout: 0s}
activity: {active_threshold: %s, periods: [day, month]}
operators: {active_threshold: 20h}
equipment:
  - {line: L1, class: cnc, ids: [M01, M02, M03]}
`, filepath.Join(p.dir, "hub"), p.influxURL, threshold)
	if err := os.WriteFile(p.cfgPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func newPlant(t *testing.T, influxURL string) plant {
	t.Helper()
	dir := t.TempDir()
	p := plant{dir: dir, cfgPath: filepath.Join(dir, "hub.yaml"), influxURL: influxURL}
	p.writeConfig(t, "80h")
	cfg, err := config.Load(p.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(cfg.StatePath())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	eng := engine.New(cfg.EngineOptions(), nil)
	at := func(d, h int) time.Time { return time.Date(2026, 10, d, h, 0, 0, 0, cfg.Location) }
	s := func(eq, name string, v signal.Value, t time.Time) signal.Signal {
		return signal.Signal{Site: "s1", Line: "L1", Equipment: eq, Name: name, Value: v, Time: t}
	}
	changes, _ := eng.Apply([]signal.Signal{
		s("M01", signal.Operator, signal.String("a,b"), at(5, 0)),
		s("M01", signal.Run, signal.Bool(true), at(5, 0)),
		s("M01", signal.Run, signal.Bool(false), at(7, 2)), // 50 h, shared by a and b
		s("M02", signal.Operator, signal.String("b"), at(6, 0)),
		s("M02", signal.Run, signal.Bool(true), at(6, 0)),
		s("M02", signal.Run, signal.Bool(false), at(6, 10)), // 10 h, b alone
	})
	if err := st.Save(changes, nil); err != nil {
		t.Fatal(err)
	}
	return p
}

// activeFlag reads M01's October active flag from InfluxDB.
func activeFlag(t *testing.T, in *testenv.Influx) string {
	t.Helper()
	body := in.Query(t, `SELECT active FROM floorpulse.autogen.equipment_activity WHERE period = 'month' AND equipment = 'M01'`)
	switch {
	case strings.Contains(body, "true"):
		return "true"
	case strings.Contains(body, "false"):
		return "false"
	}
	return "none: " + body
}

// After a threshold change, an offline recompute rewrites the figures of
// the range: M01 (50 h) is not active at 80 h and is at 40 h.
func TestRecomputeOfflineAppliesNewThreshold(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	in := testenv.StartInflux(t, "floorpulse")
	p := newPlant(t, in.URL)
	var out, errb bytes.Buffer
	if code := recomputeMain([]string{"-config", p.cfgPath, "-from", "2026-10", "-to", "2026-10"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := activeFlag(t, in); got != "false" {
		t.Fatalf("at 80h: active %s", got)
	}
	// 31 days and the month; stderr is not a terminal: plain lines, the last at 100%.
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, "100.0%") || !strings.Contains(last, "32/32 periods") {
		t.Fatalf("progress:\n%s", errb.String())
	}
	if !strings.Contains(out.String(), "32 periods") {
		t.Fatalf("summary: %s", out.String())
	}
	p.writeConfig(t, "40h")
	errb.Reset()
	if code := recomputeMain([]string{"-config", p.cfgPath, "-from", "2026-10-01", "-to", "2026-10-03"}, io.Discard, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if got := activeFlag(t, in); got != "true" {
		t.Fatalf("at 40h: active %s", got)
	}
	if n := strings.Count(in.Query(t, `SELECT active_threshold_hours FROM floorpulse.autogen.equipment_activity WHERE period = 'month' AND active_threshold_hours = 40`), `"20`); n != 3 {
		t.Fatalf("month points with the 40 h threshold: %d, want 3", n)
	}
}

// While the hub holds the state store, the offline commands fail at once
// and say how to ask the running hub instead.
func TestOfflineFailsWhileHubHoldsStore(t *testing.T) {
	p := newPlant(t, "http://127.0.0.1:1")
	cfg, err := config.Load(p.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(cfg.StatePath())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, args := range [][]string{
		{"recompute", "-config", p.cfgPath, "-from", "2026-10"},
		{"report", "-config", p.cfgPath, "-month", "2026-10"},
	} {
		var errb bytes.Buffer
		start := time.Now()
		var code int
		if args[0] == "recompute" {
			code = recomputeMain(args[1:], io.Discard, &errb)
		} else {
			code = reportMain(args[1:], io.Discard, &errb)
		}
		if code != 1 || !strings.Contains(errb.String(), "in use by a running hub") || !strings.Contains(errb.String(), "-url http://127.0.0.1:0") {
			t.Errorf("%s: exit %d: %s", args[0], code, errb.String())
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s took %s to notice the lock", args[0], d)
		}
	}
}

func TestRecomputeUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-from", "2026-10"},
		{"-config", "x.yaml", "-url", "http://h", "-from", "2026-10"},
		{"-config", "x.yaml"},
	} {
		var errb bytes.Buffer
		if code := recomputeMain(args, io.Discard, &errb); code != 2 || !strings.Contains(errb.String(), "usage: hub recompute") {
			t.Errorf("%v: exit %d: %s", args, code, errb.String())
		}
	}
}

// runningHub serves the API of a hub over the plant's state, with the
// recompute service, as the hub runs it.
func runningHub(t *testing.T, p plant, in *testenv.Influx) (*httptest.Server, *store.Store) {
	t.Helper()
	cfg, err := config.Load(p.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(cfg.StatePath())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	saved, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(cfg.EngineOptions(), saved)
	w := influx.New(influx.Config{URL: in.URL, Bucket: cfg.Influx.Bucket, Timeout: time.Minute})
	t.Cleanup(w.Close)
	svc := recompute.NewService(eng, w, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	eqRules, opRules := cfg.SegmentRules() // as the hub wires them
	segs := segment.Source{Engine: eng, Location: cfg.Location, Equipment: eqRules, Operators: opRules}
	rep := report.Handler(report.EngineSource{Engine: eng, Location: cfg.Location, Site: cfg.Site, SegmentRules: &segs}, cfg.Location,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(api.New(eng, cfg.Location, cfg.Site, nil, api.WithRecompute(svc), api.WithReport(rep)))
	t.Cleanup(func() { srv.Close(); cancel(); <-done })
	return srv, st
}

// With -url the running hub recomputes; the command follows its progress.
func TestRecomputeThroughRunningHub(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	in := testenv.StartInflux(t, "floorpulse")
	p := newPlant(t, in.URL)
	p.writeConfig(t, "40h")
	srv, st := runningHub(t, p, in)
	var out, errb bytes.Buffer
	if code := recomputeMain([]string{"-url", srv.URL, "-from", "2026-10", "-to", "2026-10", "-poll", "20ms"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "32 periods") || !strings.Contains(errb.String(), "100.0%") {
		t.Fatalf("out %q err %q", out.String(), errb.String())
	}
	if got := activeFlag(t, in); got != "true" {
		t.Fatalf("active %s", got)
	}
	if pend, err := st.Pending(); err != nil || len(pend) != 0 {
		t.Fatalf("pending after the recompute: %v %v", pend, err)
	}
	errb.Reset()
	if code := recomputeMain([]string{"-url", srv.URL, "-from", "2026-13", "-poll", "20ms"}, io.Discard, &errb); code != 1 || !strings.Contains(errb.String(), "not YYYY-MM") {
		t.Fatalf("bad month: exit %d: %s", code, errb.String())
	}
}

// The report reads the same from a running hub and from the state store,
// in every format.
func TestReportFromHubAndStore(t *testing.T) {
	p := newPlant(t, "http://127.0.0.1:1")
	report := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := reportMain(args, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	offline := report("-config", p.cfgPath, "-month", "2026-10", "-format", "json")
	var m reportJSON
	if err := json.Unmarshal([]byte(offline), &m); err != nil {
		t.Fatal(err)
	}
	m.check(t)
	table := report("-config", p.cfgPath, "-month", "2026-10")
	for _, want := range []string{"Month 2026-10 (745.0 h, Europe/Berlin)", "0 of 3 registered machines active", "M01", "(site)"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	recs, err := csv.NewReader(strings.NewReader(report("-config", p.cfgPath, "-month", "2026-10", "-format", "csv"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// header, 3 machines, 1 line, the site, operators a and b on L1 and site-wide
	if len(recs) != 1+3+1+1+4 || strings.Join(recs[0], ",") != strings.Join(csvHeader(), ",") {
		t.Fatalf("csv: %v", recs)
	}

	in := &testenv.Influx{URL: "http://127.0.0.1:1"}
	srv, _ := runningHub(t, p, in)
	if online := report("-url", srv.URL, "-month", "2026-10", "-format", "json"); online != offline {
		t.Fatalf("from the hub:\n%s\nfrom the store:\n%s", online, offline)
	}
	var errb bytes.Buffer
	if code := reportMain([]string{"-url", srv.URL, "-month", "October"}, io.Discard, &errb); code != 1 || !strings.Contains(errb.String(), "400") {
		t.Fatalf("bad month: exit %d: %s", code, errb.String())
	}
}

func csvHeader() []string { return report.CSVHeader }

type reportJSON struct {
	Month     string `json:"month"`
	Equipment []struct {
		Equipment string  `json:"equipment"`
		RunHours  float64 `json:"run_hours"`
		Active    bool    `json:"active"`
	} `json:"equipment"`
	Site struct {
		Registered, Active int
	} `json:"site"`
	Operators []struct {
		Line, Operator string
		RunHours       float64 `json:"run_hours"`
		Share          float64 `json:"share"`
		Tier           string  `json:"tier"`
	} `json:"operators"`
}

func (m reportJSON) check(t *testing.T) {
	t.Helper()
	runs := map[string]float64{}
	for _, e := range m.Equipment {
		runs[e.Equipment] = e.RunHours
	}
	if m.Month != "2026-10" || runs["M01"] != 50 || runs["M02"] != 10 || runs["M03"] != 0 || m.Site.Registered != 3 || m.Site.Active != 0 {
		t.Fatalf("report %+v", m)
	}
	// a: 25 h of M01; b: 25 h of M01 and 10 h of M02; shares of the line's 60 h.
	ops := map[string]float64{}
	for _, o := range m.Operators {
		ops[o.Line+"/"+o.Operator] = o.RunHours
		if o.Line == "" && o.Operator == "b" && (o.Tier != "low" || o.Share != 35.0/60) {
			t.Errorf("b site-wide: %+v", o)
		}
	}
	if ops["L1/a"] != 25 || ops["L1/b"] != 35 || ops["/a"] != 25 || ops["/b"] != 35 {
		t.Fatalf("operators %v", ops)
	}
}

// The offline recompute refuses a range above recompute.max_range, naming it.
func TestRecomputeOfflineRefusesLongRange(t *testing.T) {
	p := newPlant(t, "http://127.0.0.1:1")
	var errb strings.Builder
	if code := recomputeMain([]string{"-config", p.cfgPath, "-from", "1990-01", "-to", "2039-12"}, io.Discard, &errb); code != 1 ||
		!strings.Contains(errb.String(), "longer than recompute.max_range (400 days)") {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
}
