package recompute

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/influx"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/hub/internal/store"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

func TestParseRange(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 0, 0, 0, 0, loc) }
	for _, c := range []struct {
		from, to string
		a, b     time.Time
		bad      bool
	}{
		{from: "2026-10", to: "2026-10", a: d(2026, 10, 1), b: d(2026, 11, 1)},
		{from: "2026-10", to: "2026-12", a: d(2026, 10, 1), b: d(2027, 1, 1)},
		{from: "2026-10-25", to: "2026-10-25", a: d(2026, 10, 25), b: d(2026, 10, 26)},
		{from: "2026-09-30", to: "2026-10", a: d(2026, 9, 30), b: d(2026, 11, 1)},
		{from: "2026-11", to: "2026-10", bad: true},
		{from: "2026-10-32", to: "2026-11", bad: true},
		{from: "last month", to: "2026-11", bad: true},
		{from: "", to: "2026-11", bad: true},
	} {
		a, b, err := ParseRange(c.from, c.to, loc)
		if c.bad {
			if err == nil {
				t.Errorf("%s..%s: no error", c.from, c.to)
			}
			continue
		}
		if err != nil || !a.Equal(c.a) || !b.Equal(c.b) {
			t.Errorf("%s..%s: got %s %s %v, want %s %s", c.from, c.to, a, b, err, c.a, c.b)
		}
	}
	// The autumn day of the DST change is 25 h long.
	if a, b, _ := ParseRange("2026-10-25", "2026-10-25", loc); b.Sub(a) != 25*time.Hour {
		t.Errorf("2026-10-25 is %s long", b.Sub(a))
	}
}

// count returns the number of points of a measurement (by a field every
// point of it has) in InfluxDB.
func count(t *testing.T, in *testenv.Influx, measurement, field string) int {
	t.Helper()
	body := in.Query(t, "SELECT count("+field+") FROM floorpulse.autogen."+measurement)
	var r struct {
		Results []struct {
			Series []struct {
				Values [][]any `json:"values"`
			} `json:"series"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	if len(r.Results) == 0 || len(r.Results[0].Series) == 0 {
		return 0
	}
	return int(r.Results[0].Series[0].Values[0][1].(float64))
}

// A recompute writes every period of the range once, with its progress
// growing to the total; a second one replaces the same points.
func TestRunWritesEveryPeriod(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	in := testenv.StartInflux(t, "floorpulse")
	cfg := plantConfig(t, 2, 3)
	eng := engine.New(cfg.EngineOptions(), nil)
	from := time.Date(2026, 10, 30, 0, 0, 0, 0, cfg.Location)
	feed(eng, cfg, from, from.AddDate(0, 0, 4), nil)
	w := influx.New(influx.Config{URL: in.URL, Bucket: "floorpulse/autogen", Timeout: time.Minute})
	defer w.Close()
	to := from.AddDate(0, 0, 2) // October 30 and 31
	var seen []Progress
	p, err := Run(context.Background(), eng, w, from, to, func(p Progress) { seen = append(seen, p) })
	if err != nil {
		t.Fatal(err)
	}
	// 48 hours, 2 days, 7 shifts (three a day, and the night of the 29th
	// that reaches into the 30th), 1 month.
	if p.Total != 48+2+7+1 || p.Done != p.Total || p.Running {
		t.Fatalf("final progress %+v", p)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i].Done < seen[i-1].Done {
			t.Fatalf("progress went back: %+v then %+v", seen[i-1], seen[i])
		}
	}
	if first, last := seen[0], seen[len(seen)-1]; first.Done != 0 || !first.Running || last.Running || last.Done != p.Total {
		t.Fatalf("progress from %+v to %+v", first, last)
	}
	// 6 machines per period; rollups: 2 lines and the site per period.
	wantEq, wantRoll := 6*p.Total, 3*p.Total
	check := func() {
		t.Helper()
		if n := count(t, in, "equipment_activity", "run_seconds"); n != wantEq {
			t.Errorf("equipment points: %d, want %d", n, wantEq)
		}
		if n := count(t, in, "line_activity", "registered") + count(t, in, "site_activity", "registered"); n != wantRoll {
			t.Errorf("rollup points: %d, want %d", n, wantRoll)
		}
		if n := count(t, in, "operator_activity", "run_seconds"); n == 0 {
			t.Error("no operator points")
		}
	}
	check()
	if p.Points != wantEq+wantRoll+count(t, in, "operator_activity", "run_seconds") {
		t.Errorf("progress counted %d points", p.Points)
	}
	if _, err := Run(context.Background(), eng, w, from, to, nil); err != nil {
		t.Fatal(err)
	}
	check() // replaced, not added

	// A field a recompute no longer writes goes: with an ideal cycle time
	// every equipment point has ideal_cycle_seconds; once the registry
	// has none, no point keeps it.
	reg := cfg.EngineOptions().Registry
	for i := range reg {
		reg[i].IdealCycle = 45 * time.Second
	}
	eng.SetRegistry(reg)
	if _, err := Run(context.Background(), eng, w, from, to, nil); err != nil {
		t.Fatal(err)
	}
	if n := count(t, in, "equipment_activity", "ideal_cycle_seconds"); n != wantEq {
		t.Fatalf("ideal_cycle_seconds on %d points, want %d", n, wantEq)
	}
	eng.SetRegistry(cfg.EngineOptions().Registry)
	if _, err := Run(context.Background(), eng, w, from, to, nil); err != nil {
		t.Fatal(err)
	}
	if n := count(t, in, "equipment_activity", "ideal_cycle_seconds"); n != 0 {
		t.Errorf("ideal_cycle_seconds kept on %d points after a recompute without it", n)
	}
	check()
}

// gate holds every write until it is opened.
type gate struct {
	w    Writer
	open chan struct{}
}

func (g gate) Write(ctx context.Context, res engine.Result) error {
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.w.Write(ctx, res)
}

// The service stores the range as pending for all equipment before it
// writes (so a crash leaves it to the flusher), runs one recompute at a
// time, and clears the range when done.
func TestServiceStoresPendingAndClears(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	in := testenv.StartInflux(t, "floorpulse")
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := plantConfig(t, 2, 2)
	eng := engine.New(cfg.EngineOptions(), nil)
	from := time.Date(2026, 10, 1, 0, 0, 0, 0, cfg.Location)
	feed(eng, cfg, from, from.AddDate(0, 0, 2), nil)
	w := influx.New(influx.Config{URL: in.URL, Bucket: "floorpulse/autogen", Timeout: time.Minute})
	defer w.Close()
	g := gate{w: w, open: make(chan struct{})}
	svc := NewService(eng, g, st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() { cancel(); <-done }()

	to := from.AddDate(0, 0, 2)
	p, err := svc.Start(from, to)
	if err != nil || !p.Running || p.Total != len(eng.Periods(from, to)) {
		t.Fatalf("start: %+v %v", p, err)
	}
	if _, err := svc.Start(from, to); !errors.Is(err, ErrBusy) {
		t.Fatalf("second start: %v, want ErrBusy", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		pend, err := st.Pending()
		if err != nil {
			t.Fatal(err)
		}
		if len(pend) == 4 {
			for k, r := range pend {
				if r != (state.Range{From: from.UnixNano(), To: to.UnixNano() - 1}) {
					t.Fatalf("pending %s: %v", k, r)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("range not stored as pending: %v", pend)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s := svc.Status(); !s.Running || s.Done != 0 {
		t.Fatalf("status while held: %+v", s)
	}
	close(g.open)
	for {
		s := svc.Status()
		if !s.Running {
			if s.Error != "" || s.Done != s.Total || s.Total == 0 {
				t.Fatalf("finished with %+v", s)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recompute did not finish: %+v", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if pend, err := st.Pending(); err != nil || len(pend) != 0 {
		t.Fatalf("pending after the recompute: %v %v", pend, err)
	}
	if n := count(t, in, "equipment_activity", "run_seconds"); n != 4*p.Total {
		t.Fatalf("equipment points %d, want %d", n, 4*p.Total)
	}
}

// A range its limit refuses is not started: ErrRange, with the limit's
// words, and nothing is stored or written.
func TestServiceRefusesRangeAboveLimit(t *testing.T) {
	limit := func(from, to time.Time) error {
		if to.Sub(from) > 48*time.Hour {
			return errors.New("longer than recompute.max_range (2 days)")
		}
		return nil
	}
	svc := NewService(engine.New(engine.Options{Location: time.UTC}, nil), nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), WithLimit(limit))
	from := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err := svc.Start(from, from.AddDate(50, 0, 0))
	if !errors.Is(err, ErrRange) || err.Error() != "recompute range refused: longer than recompute.max_range (2 days)" {
		t.Fatalf("50 years: %v", err)
	}
	if p := svc.Status(); p.Running {
		t.Fatalf("status after a refusal: %+v", p)
	}
	if _, err := svc.Start(from, from.AddDate(0, 0, 2)); err != nil {
		t.Fatalf("2 days: %v", err)
	}
}
