package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/recompute"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

func testEngine(t *testing.T) (*engine.Engine, *time.Location) {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	reg := []activity.Equipment{
		{Key: signal.Key{Site: "s", Line: "L1", Equipment: "M1"}, Class: "cnc"},
		{Key: signal.Key{Site: "s", Line: "L1", Equipment: "M2"}, Class: "cnc"},
	}
	e := engine.New(engine.Options{Location: loc, Registry: reg, Threshold: func(string) time.Duration { return 2 * time.Hour },
		OperatorThreshold: time.Hour, Tiers: activity.Tiers{High: 3 * time.Hour, Medium: 2 * time.Hour, Low: time.Hour},
		OperatorTiers: activity.Tiers{High: 3 * time.Hour, Medium: 2 * time.Hour, Low: time.Hour},
		Attrition:     activity.AttritionRule{Months: 1, Drop: 0.3, History: 2}}, nil)
	at := func(h int) time.Time { return time.Date(2026, 10, 5, h, 0, 0, 0, loc) }
	sig := func(eq, name string, v signal.Value, h int) signal.Signal {
		return signal.Signal{Site: "s", Line: "L1", Equipment: eq, Name: name, Value: v, Time: at(h)}
	}
	e.Apply([]signal.Signal{
		sig("M1", signal.Operator, signal.String("ann,bob"), 6),
		sig("M1", signal.Run, signal.Bool(true), 6),
		sig("M1", signal.Run, signal.Bool(false), 10), // 4 h shared: 2 h each
		sig("M2", signal.Login, signal.String("bob"), 6),
		sig("M2", signal.Run, signal.Bool(true), 7),
		sig("M2", signal.Run, signal.Bool(false), 8), // 1 h bob
	})
	return e, loc
}

func get(t *testing.T, srv *httptest.Server, method, path string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestOperatorsEndpoint(t *testing.T) {
	e, loc := testEngine(t)
	srv := httptest.NewServer(New(e, loc, "s", nil))
	defer srv.Close()
	code, body := get(t, srv, "GET", "/api/v1/months/2026-10/operators")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var got OperatorsJSON
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	type row struct {
		scope      string
		line, op   string
		hours, shr float64
		tier       string
	}
	want := []row{{"site", "", "ann", 2, 0.4, "medium"}, {"site", "", "bob", 3, 0.6, "high"},
		{"line", "L1", "ann", 2, 0.4, ""}, {"line", "L1", "bob", 3, 0.6, ""}}
	if got.Month != "2026-10" || len(got.Operators) != len(want) {
		t.Fatalf("%s", body)
	}
	for i, w := range want {
		o := got.Operators[i]
		if o.Scope != w.scope || o.Line != w.line || o.Operator != w.op || o.RunHours != w.hours || o.Share == nil || *o.Share != w.shr || o.Tier != w.tier ||
			(o.Line == "") != (o.Active != nil) {
			t.Errorf("row %d: %+v, want %+v", i, o, w)
		}
	}
	if !strings.Contains(body, `"scope": "site"`) || !strings.Contains(body, `"scope": "line"`) {
		t.Errorf("scope not in the JSON: %s", body)
	}
	if code, _ := get(t, srv, "GET", "/api/v1/months/2026-13/operators"); code != 400 {
		t.Errorf("bad month: %d", code)
	}
	// The existing endpoints still answer, lines now with their ratios.
	code, body = get(t, srv, "GET", "/api/v1/months/2026-10")
	var m MonthJSON
	if err := json.Unmarshal([]byte(body), &m); code != 200 || err != nil || len(m.Lines) != 1 || m.Lines[0].Utilization == nil || m.Site.RunHours != 5 {
		t.Fatalf("month: %d %v %s", code, err, body)
	}
	// Each machine's tier is the one its line counts.
	tiers := map[string]int{}
	for _, e := range m.Equipment {
		tiers[e.Tier]++
	}
	for tier, n := range m.Lines[0].Tiers {
		if tiers[tier] != n {
			t.Errorf("tier %s: %d machines, the line counts %d", tier, tiers[tier], n)
		}
	}
	if len(tiers) < 2 {
		t.Errorf("tiers %v: the test wants machines of two tiers", tiers)
	}
}

// fakeRecomputer records starts; busy makes it refuse.
type fakeRecomputer struct {
	from, to time.Time
	busy     bool
}

func (f *fakeRecomputer) Start(from, to time.Time) (recompute.Progress, error) {
	if f.busy {
		return recompute.Progress{Running: true, Done: 3, Total: 10}, recompute.ErrBusy
	}
	f.from, f.to, f.busy = from, to, true
	return recompute.Progress{From: from, To: to, Running: true, Total: 10}, nil
}

func (f *fakeRecomputer) Status() recompute.Progress {
	return recompute.Progress{From: f.from, To: f.to, Running: f.busy, Done: 5, Total: 10, Elapsed: 10 * time.Second}
}

func TestRecomputeEndpoints(t *testing.T) {
	e, loc := testEngine(t)
	off := httptest.NewServer(New(e, loc, "s", nil))
	defer off.Close()
	if code, body := get(t, off, "POST", "/api/v1/recompute?from=2026-10&to=2026-10"); code != http.StatusNotImplemented {
		t.Fatalf("without a recomputer: %d %s", code, body)
	}
	f := &fakeRecomputer{}
	srv := httptest.NewServer(New(e, loc, "s", nil, WithRecompute(f)))
	defer srv.Close()
	if code, body := get(t, srv, "POST", "/api/v1/recompute?from=2026-11&to=2026-10"); code != 400 || !strings.Contains(body, "before") {
		t.Fatalf("reversed range: %d %s", code, body)
	}
	code, body := get(t, srv, "POST", "/api/v1/recompute?from=2026-10-25&to=2026-10")
	if code != http.StatusAccepted {
		t.Fatalf("start: %d %s", code, body)
	}
	if !f.from.Equal(time.Date(2026, 10, 25, 0, 0, 0, 0, loc)) || !f.to.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, loc)) {
		t.Fatalf("range %s %s", f.from, f.to)
	}
	if code, body := get(t, srv, "POST", "/api/v1/recompute?from=2026-10&to=2026-10"); code != http.StatusConflict || !strings.Contains(body, `"done": 3`) {
		t.Fatalf("while busy: %d %s", code, body)
	}
	code, body = get(t, srv, "GET", "/api/v1/recompute")
	var st RecomputeJSON
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil {
		t.Fatalf("status: %d %v %s", code, err, body)
	}
	if !st.Running || st.Fraction != 0.5 || st.ETASeconds == nil || *st.ETASeconds != 10 || st.ElapsedSeconds != 10 {
		t.Fatalf("status %s", body)
	}
}
