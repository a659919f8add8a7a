package segment

import (
	"math"
	"math/rand"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// The run time per day that Source sums from one pass over each machine's
// history is, day by day, the run time of the machine's day figures, and
// each operator's share is what the engine's OperatorRun gives for the
// day: across the fall-back day, with a shift calendar on one line, runs
// crossing midnight and operators working together.
func TestSourceDaysEqualDayFigures(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	reg := []activity.Equipment{
		{Key: signal.Key{Site: "s", Line: "L1", Equipment: "M1"}}, {Key: signal.Key{Site: "s", Line: "L1", Equipment: "M2"}},
		{Key: signal.Key{Site: "s", Line: "L2", Equipment: "P1"}},
	}
	cal := &calendar.Calendar{Loc: loc, Shifts: []calendar.Recurring{{Name: "early", Start: 6 * 60, End: 14 * 60}, {Name: "late", Start: 14 * 60, End: 22 * 60}}}
	eng := engine.New(engine.Options{Location: loc, Registry: reg, Threshold: func(string) time.Duration { return 80 * time.Hour },
		Calendar: func(_, line string) *calendar.Calendar {
			if line == "L2" {
				return cal
			}
			return nil
		}}, nil)
	rng := rand.New(rand.NewSource(7))
	start, end := time.Date(2026, 9, 20, 0, 0, 0, 0, loc), time.Date(2026, 11, 3, 0, 0, 0, 0, loc)
	var sigs []signal.Signal
	for _, eq := range reg {
		k := eq.Key
		on := false
		for at := start; at.Before(end); at = at.Add(time.Duration(20+rng.Intn(300)) * time.Minute) {
			on = !on
			sigs = append(sigs, signal.Signal{Site: k.Site, Line: k.Line, Equipment: k.Equipment, Name: signal.Run, Value: signal.Bool(on), Time: at})
			if rng.Intn(3) == 0 {
				ops := []string{"ann", "bob", "ann,bob", "", "cy"}[rng.Intn(5)]
				sigs = append(sigs, signal.Signal{Site: k.Site, Line: k.Line, Equipment: k.Equipment, Name: signal.Operator, Value: signal.String(ops), Time: at})
			}
		}
		sigs = append(sigs, signal.Signal{Site: k.Site, Line: k.Line, Equipment: k.Equipment, Name: signal.Run, Value: signal.Bool(false), Time: end})
	}
	// M2's good-part counter: +50 on 10-03, a reset to 20 on 10-04, +30
	// late on 10-31, +10 early on 11-01 (November's).
	for _, c := range []struct {
		at time.Time
		v  float64
	}{{time.Date(2026, 10, 3, 10, 0, 0, 0, loc), 100}, {time.Date(2026, 10, 3, 12, 0, 0, 0, loc), 150},
		{time.Date(2026, 10, 4, 9, 0, 0, 0, loc), 20}, {time.Date(2026, 10, 31, 23, 30, 0, 0, loc), 50}, {time.Date(2026, 11, 1, 0, 30, 0, 0, loc), 60}} {
		sigs = append(sigs, signal.Signal{Site: "s", Line: "L1", Equipment: "M2", Name: signal.Count, Value: signal.Number(c.v), Time: c.at})
	}
	eng.Apply(sigs)
	src := Source{Engine: eng, Location: loc, Equipment: DefaultRules(activity.Tiers{High: time.Hour, Medium: time.Hour, Low: time.Hour}),
		Operators: DefaultRules(activity.Tiers{High: time.Hour, Medium: time.Hour, Low: time.Hour})}
	oct, _ := activity.ParseMonth("2026-10", loc)
	first, _ := activity.ParseMonth("2026-09", loc)
	d := src.days(first, oct, time.Date(2026, 12, 1, 0, 0, 0, 0, loc))
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6 }
	days := activity.Between(activity.Day, first.Start, oct.End.Add(-time.Nanosecond), loc, nil)
	if len(days) != 61 {
		t.Fatalf("%d days", len(days))
	}
	var total float64
	for _, day := range days {
		for _, eq := range reg {
			f, _ := eng.EquipmentFigures(eq.Key, day)
			if got := d.equipment[eq.Key][day.Start.UnixNano()]; !near(got, f.RunSeconds()) {
				t.Errorf("%s %s: %v s run, day figures %v", eq.Key, day.Name(), got, f.RunSeconds())
			}
			total += f.RunSeconds()
		}
		want := eng.OperatorRun("s", day)
		for op, secs := range want {
			if got, ok := d.operators["s"][op][day.Start.UnixNano()]; !ok || !near(got, secs) {
				t.Errorf("%s %s: %v s (%v), OperatorRun %v", op, day.Name(), got, ok, secs)
			}
		}
		for op, run := range d.operators["s"] {
			if _, ok := want[op]; !ok && run[day.Start.UnixNano()] != 0 {
				t.Errorf("%s %s: %v s, not in OperatorRun", op, day.Name(), run[day.Start.UnixNano()])
			}
		}
	}
	for _, eq := range reg { // the data begins on 09-20
		if got := d.seen[eq.Key]; got != start.UnixNano() {
			t.Errorf("%s first seen %v, want %v", eq.Key, time.Unix(0, got).In(loc), start)
		}
	}
	day := func(m time.Month, d int) int64 { return time.Date(2026, m, d, 0, 0, 0, 0, loc).UnixNano() }
	m2 := reg[1].Key
	if p := d.parts[m2]; len(p) != 3 || p[day(10, 3)] != 50 || p[day(10, 4)] != 20 || p[day(10, 31)] != 30 {
		t.Errorf("M2's parts per day: %v", p)
	}
	if _, ok := d.parts[reg[0].Key]; ok {
		t.Error("M1 has parts without a counter")
	}
	for _, a := range src.Month(oct, time.Date(2026, 12, 1, 0, 0, 0, 0, loc)) {
		switch {
		case a.ID == "M2" && (a.Parts == nil || *a.Parts != 100):
			t.Errorf("M2's parts in October: %v", a.Parts)
		case a.Kind == Equipment && a.ID != "M2" && a.Parts != nil:
			t.Errorf("%s has parts: %v", a.ID, *a.Parts)
		}
	}
	if total < 100*3600 || len(d.operators["s"]) != 3 {
		t.Fatalf("too little to compare: %v s run, operators %d", total, len(d.operators["s"]))
	}
}
