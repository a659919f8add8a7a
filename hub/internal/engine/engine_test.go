package engine

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/state"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

func newEngine(t *testing.T) (*Engine, *time.Location) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	reg := []activity.Equipment{
		{Key: signal.Key{Site: "s", Line: "L1", Equipment: "M1"}, Class: "cnc"},
		{Key: signal.Key{Site: "s", Line: "L1", Equipment: "M2"}, Class: "cnc"},
	}
	return New(Options{Location: loc, Registry: reg, Threshold: func(string) time.Duration { return 80 * time.Hour }}, nil), loc
}

func sig(eq, name string, v signal.Value, t time.Time) signal.Signal {
	return signal.Signal{Site: "s", Line: "L1", Equipment: eq, Name: name, Value: v, Time: t}
}

// A redelivered batch changes no state but is written out again, because its
// first delivery may have died between the state commit and the write.
func TestRedeliveryIsRewrittenNotRecounted(t *testing.T) {
	e, loc := newEngine(t)
	t0 := time.Date(2026, 10, 31, 20, 0, 0, 0, loc)
	var batch []signal.Signal
	batch = append(batch, sig("M1", signal.Run, signal.Bool(true), t0))
	for m := 10; m <= 8*60; m += 10 {
		batch = append(batch, sig("M1", "power", signal.Number(3), t0.Add(time.Duration(m)*time.Minute)))
	}
	changes, dirty := e.Apply(batch)
	if len(changes) != 1 || len(changes[0].Run) != 1 {
		t.Fatalf("first delivery: changes %+v", changes)
	}
	r1 := e.Figures(dirty)
	changes, dirty = e.Apply(batch)
	if len(changes) != 1 || len(changes[0].Run) != 0 || changes[0].SilencesChanged {
		t.Fatalf("redelivery must add nothing: %+v", changes)
	}
	r2 := e.Figures(dirty)
	if !reflect.DeepEqual(r1, r2) {
		t.Fatal("figures differ on redelivery")
	}
	months := monthsOf(r2, "M1")
	if len(months) != 2 || months[0].RunHours() != 4 || months[1].RunHours() != 4 {
		t.Fatalf("run split over the month end: %+v", months)
	}
	// Rollups: L1 and the site in both months, with the silent M2 registered.
	var lineMonths int
	for _, r := range r2.Rollups {
		if r.Period.Kind == activity.Month && r.Line == "L1" {
			lineMonths++
			if r.Registered != 2 {
				t.Fatalf("line month %+v", r)
			}
		}
	}
	if lineMonths != 2 {
		t.Fatalf("line months: %d", lineMonths)
	}
}

func monthsOf(r Result, eq string) []activity.Figures {
	var out []activity.Figures
	for _, f := range r.Equipment {
		if f.Key.Equipment == eq && f.Period.Kind == activity.Month {
			out = append(out, f)
		}
	}
	return out
}

// A late signal restates the months from its time to the horizon.
func TestLateSignalRestates(t *testing.T) {
	e, loc := newEngine(t)
	t0 := time.Date(2026, 9, 30, 12, 0, 0, 0, loc)
	var batch []signal.Signal
	batch = append(batch, sig("M1", signal.Run, signal.Bool(false), t0))
	for x := t0; x.Before(t0.AddDate(0, 1, 5)); x = x.Add(20 * time.Minute) {
		batch = append(batch, sig("M1", "power", signal.Number(1), x))
	}
	e.Apply(batch)
	_, dirty := e.Apply([]signal.Signal{sig("M1", signal.Run, signal.Bool(true), t0.Add(time.Hour))})
	ms := monthsOf(e.Figures(dirty), "M1")
	if len(ms) != 3 || ms[0].Period.Name() != "2026-09" || ms[1].Period.Name() != "2026-10" || ms[2].Period.Name() != "2026-11" {
		t.Fatalf("restated months: %+v", ms)
	}
	if ms[1].RunSeconds() != ms[1].Period.Hours()*3600 {
		t.Fatalf("October should be all running, got %v h", ms[1].RunHours())
	}
}

// State codes map through the configuration; unmapped codes are unknown and counted.
func TestStateCodesAndOperators(t *testing.T) {
	loc := time.UTC
	e := New(Options{Location: loc, Threshold: func(string) time.Duration { return time.Hour },
		StateCodes: map[string]state.State{"3": state.Down, "RUN": state.Running}, OperatorThreshold: time.Hour,
		Attrition: activity.AttritionRule{Months: 3, Drop: 0.3, History: 6}}, nil)
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, loc)
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	_, dirty := e.Apply([]signal.Signal{
		sig("M1", signal.State, signal.String("RUN"), at(0)),
		sig("M1", signal.Operator, signal.String("b,a"), at(0)),
		sig("M1", signal.State, signal.Number(3), at(2)),
		sig("M1", signal.State, signal.Number(99), at(3)),
		sig("M1", signal.State, signal.String("running"), at(4)),
		sig("M1", signal.Logout, signal.String("a"), at(5)),
		sig("M1", "power", signal.Number(1), at(6)),
	})
	if e.Stats().UnmappedStates != 1 {
		t.Fatalf("unmapped: %d", e.Stats().UnmappedStates)
	}
	res := e.Figures(dirty)
	m := monthsOf(res, "M1")[0]
	if m.Seconds[state.Running] != 4*3600 || m.Seconds[state.Down] != 3600 || m.Failures != 1 || m.Seconds[state.Unknown] != m.Period.Seconds()-5*3600 {
		t.Fatalf("month %v failures %d", m.Seconds, m.Failures)
	}
	// Operators: a and b share 0-2h and 4-5h (1.5 h each), b alone 5-6h.
	ops := map[string]float64{}
	for _, o := range res.Operators {
		if o.Line == "" {
			ops[o.Operator] = o.RunSeconds / 3600
		}
	}
	if ops["a"] != 1.5 || ops["b"] != 2.5 {
		t.Fatalf("operator hours %v", ops)
	}
}

// equipment_state: a step only where the state changes; late data that
// merges two states leaves out the later step, and the result's state range
// covers it (so the writer removes its point).
func TestStateSteps(t *testing.T) {
	e, loc := newEngine(t)
	t0 := time.Date(2026, 10, 5, 10, 0, 0, 0, loc)
	_, d1 := e.Apply([]signal.Signal{sig("M1", signal.Run, signal.Bool(false), t0), sig("M1", signal.Run, signal.Bool(true), t0.Add(time.Hour)),
		sig("M1", "power", signal.Number(1), t0.Add(2*time.Hour))})
	steps := e.Figures(d1).States
	// Without a signal timeout the state at the latest observation (running
	// since 11:00) holds on: the open interval is its step, and no unknown
	// follows the last observation.
	if len(steps) != 2 || steps[0].State != state.Idle || steps[1].State != state.Running {
		t.Fatalf("steps %+v", steps)
	}
	// Late: the machine was running already at 10:00 (true wins at one instant).
	_, d2 := e.Apply([]signal.Signal{sig("M1", signal.Run, signal.Bool(true), t0)})
	res := e.Figures(d2)
	steps = res.States
	if len(steps) < 1 || !steps[0].Start.Equal(t0) || steps[0].State != state.Running || (len(steps) > 1 && !steps[1].Start.After(t0.Add(time.Hour))) {
		t.Fatalf("restated steps %+v", steps)
	}
	if len(res.StateRanges) != 1 || res.StateRanges[0].From.After(t0) || res.StateRanges[0].To.Before(t0.Add(time.Hour)) {
		t.Fatalf("state ranges %+v", res.StateRanges)
	}
}

// Beyond the configured lateness a signal is set aside and counted.
func TestMaxLateness(t *testing.T) {
	loc := time.UTC
	e := New(Options{Location: loc, Threshold: func(string) time.Duration { return time.Hour }, MaxLateness: time.Hour}, nil)
	t0 := time.Date(2026, 10, 1, 12, 0, 0, 0, loc)
	e.Apply([]signal.Signal{sig("M1", signal.Run, signal.Bool(false), t0)})
	changes, _ := e.Apply([]signal.Signal{
		sig("M1", signal.Run, signal.Bool(true), t0.Add(-30*time.Minute)), // within the lateness: placed
		sig("M1", signal.Run, signal.Bool(true), t0.Add(-2*time.Hour)),    // beyond: set aside
	})
	if e.Stats().TooLate != 1 || len(changes) != 1 || len(changes[0].Run) != 1 {
		t.Fatalf("too late %d, changes %+v", e.Stats().TooLate, changes)
	}
}

// A string value longer than MaxValueLen is set aside and counted, before
// it reaches a timeline; the batch's other signals are applied.
func TestOversizedValueSetAside(t *testing.T) {
	e, loc := newEngine(t)
	t0 := time.Date(2026, 10, 1, 8, 0, 0, 0, loc)
	huge := strings.Repeat("x", MaxValueLen+1)
	changes, _ := e.Apply([]signal.Signal{
		sig("M1", signal.Run, signal.Bool(true), t0),
		sig("M1", signal.Operator, signal.String(huge), t0),
		sig("M1", signal.Alarm, signal.String(huge), t0.Add(time.Minute)),
		sig("M1", signal.Login, signal.String(strings.Repeat("a", MaxValueLen)), t0),
		sig("M9", signal.Run, signal.String(huge), t0), // reports nothing else: stays unknown
	})
	if n := e.Stats().TooLarge; n != 3 {
		t.Fatalf("too large: %d, want 3", n)
	}
	if len(changes) != 1 || len(changes[0].Run) != 1 || len(changes[0].Ops) != 1 || len(changes[0].Alarm) != 0 || changes[0].Horizon != t0.UnixNano() {
		t.Fatalf("changes %+v", changes)
	}
	if keys := e.Keys(); len(keys) != 2 {
		t.Fatalf("equipment %v: the oversized signal's equipment was added", keys)
	}
}

// Reset takes a batch back to the stored timelines: an engine reset after
// a failed commit computes what an engine that never saw the batch does,
// and applies the batch again when it comes back.
func TestResetToStored(t *testing.T) {
	e, loc := newEngine(t)
	ref, _ := newEngine(t)
	t0 := time.Date(2026, 10, 1, 8, 0, 0, 0, loc)
	a := []signal.Signal{sig("M1", signal.Run, signal.Bool(true), t0), sig("M1", signal.Operator, signal.String("op1"), t0)}
	b := []signal.Signal{sig("M1", signal.Run, signal.Bool(false), t0.Add(time.Hour)), sig("M3", signal.Run, signal.Bool(true), t0)}
	e.Apply(a)
	ref.Apply(a)
	stored := map[signal.Key]state.Saved{{Site: "s", Line: "L1", Equipment: "M1"}: {First: t0.UnixNano(), Horizon: t0.UnixNano(),
		Run: []state.Point{{T: t0.UnixNano(), V: state.True}}, Ops: []state.OpEvent{{T: t0.UnixNano(), Kind: state.OpSet, Op: "op1"}}}}
	_, dirty := e.Apply(b)
	keys := sortedKeys(dirty)
	e.Reset(keys, stored)
	m := activity.MonthOf(t0, loc)
	f1, r1 := e.Month(m)
	f2, r2 := ref.Month(m)
	if !reflect.DeepEqual(f1, f2) || !reflect.DeepEqual(r1, r2) || !reflect.DeepEqual(e.Operators(m), ref.Operators(m)) {
		t.Fatalf("after the reset\n%+v\nwant\n%+v", f1, f2)
	}
	if !reflect.DeepEqual(e.Keys(), ref.Keys()) {
		t.Fatalf("equipment %v, want %v: a reporting equipment with nothing stored stays", e.Keys(), ref.Keys())
	}
	changes, _ := e.Apply(b)
	if len(changes) != 2 || len(changes[0].Run) != 1 || len(changes[1].Run) != 1 {
		t.Fatalf("the batch again: %+v, want its run changes", changes)
	}
}

// Running without a counter increase for 10 minutes or more is idle running.
func TestIdleRunningFromCounts(t *testing.T) {
	loc := time.UTC
	e := New(Options{Location: loc, Threshold: func(string) time.Duration { return time.Hour }, IdleRunningAfter: 10 * time.Minute,
		Kinds: []string{activity.Month}}, nil)
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, loc)
	sigs := []signal.Signal{sig("M1", signal.Run, signal.Bool(true), t0)}
	n := 0.0
	for m := 0; m <= 60; m += 2 {
		if m <= 20 || m >= 50 { // no parts between minute 20 and 50
			n++
		}
		sigs = append(sigs, sig("M1", signal.Count, signal.Number(n), t0.Add(time.Duration(m)*time.Minute)))
	}
	_, dirty := e.Apply(sigs)
	f := monthsOf(e.Figures(dirty), "M1")[0]
	if !f.HasCounter || f.IdleRunSeconds != 30*60 {
		t.Fatalf("idle running %v (counter %v)", f.IdleRunSeconds, f.HasCounter)
	}
}

// BenchmarkApply measures the engine alone: signals per second through Apply
// for 50 machines, one run change in four signals, the rest gauges, in
// batches of 1,000 as the consumer fetches them.
func BenchmarkApply(b *testing.B) {
	loc, _ := time.LoadLocation("Europe/Berlin")
	var reg []activity.Equipment
	for i := 0; i < 50; i++ {
		reg = append(reg, activity.Equipment{Key: signal.Key{Site: "s", Line: "L1", Equipment: fmt.Sprintf("M%02d", i)}})
	}
	e := New(Options{Location: loc, Registry: reg, Threshold: func(string) time.Duration { return 80 * time.Hour }}, nil)
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, loc)
	batch := make([]signal.Signal, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i += len(batch) {
		for j := range batch {
			k := reg[n%50].Key
			s := signal.Signal{Site: k.Site, Line: k.Line, Equipment: k.Equipment, Time: t0.Add(time.Duration(n) * time.Second)}
			if n%4 == 0 {
				s.Name, s.Value = signal.Run, signal.Bool(n%8 == 0)
			} else {
				s.Name, s.Value = "power", signal.Number(float64(n%100))
			}
			batch[j] = s
			n++
		}
		e.Apply(batch)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "signals/s")
}

// A watermark (signal.SeenName) says the source was observed up to its
// time: a machine that runs on with nothing changing keeps running up to
// it, past the signal timeout, and a source observed throughout leaves no
// silence; the watermark is no gauge and changes no state.
func TestWatermarkExtendsWhatIsKnown(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	k := signal.Key{Site: "s", Line: "L1", Equipment: "M1"}
	t0 := time.Date(2026, 10, 14, 8, 0, 0, 0, loc)
	run := func(watermarks bool) activity.Figures {
		e := New(Options{Location: loc, Timeout: time.Minute, Registry: []activity.Equipment{{Key: k, Class: "cnc"}},
			Threshold: func(string) time.Duration { return 80 * time.Hour }}, nil)
		batch := []signal.Signal{sig("M1", signal.Run, signal.Bool(true), t0)}
		if watermarks {
			for s := 5; s <= 600; s += 5 {
				batch = append(batch, signal.Seen(k, "gw1", t0.Add(time.Duration(s)*time.Second)))
			}
		}
		changes, dirty := e.Apply(batch)
		if len(changes) != 1 || len(changes[0].Silences) != 0 || len(changes[0].Run) != 1 || len(changes[0].State) != 0 {
			t.Fatalf("watermarks %v: changes %+v", watermarks, changes)
		}
		months := monthsOf(e.Figures(dirty), "M1")
		if len(months) != 1 {
			t.Fatalf("watermarks %v: months %+v", watermarks, months)
		}
		return months[0]
	}
	if got := run(true).Seconds[state.Running]; got != 600 {
		t.Errorf("run for 10 minutes with a watermark every 5 s: %v s running, want 600", got)
	}
	if got := run(false).Seconds[state.Running]; got != 0 {
		t.Errorf("run then nothing: %v s running, want 0 (nothing known after the run signal)", got)
	}
}
