package engine

import (
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// reportEngine has two lines with different shift calendars (L2's night
// shift ends later) and a line around the clock, and a few days of signals
// across the DST change of October 2026 with operators.
func reportEngine(t *testing.T) (*Engine, *time.Location) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	l1 := &calendar.Calendar{Loc: loc, Shifts: []calendar.Recurring{{Name: "day", Start: 6 * 60, End: 18 * 60}, {Name: "night", Start: 18 * 60, End: 6 * 60}}}
	l2 := &calendar.Calendar{Loc: loc, Shifts: []calendar.Recurring{{Name: "day", Start: 6 * 60, End: 18 * 60}, {Name: "night", Start: 18 * 60, End: 7 * 60}},
		Stops: []calendar.Recurring{{Name: "break", Start: 12 * 60, End: 12*60 + 30}}}
	var reg []activity.Equipment
	for _, line := range []string{"L1", "L2", "L3"} {
		for _, m := range []string{"M1", "M2"} {
			reg = append(reg, activity.Equipment{Key: signal.Key{Site: "s", Line: line, Equipment: m}, Class: "cnc"})
		}
	}
	e := New(Options{Location: loc, Registry: reg, Threshold: func(string) time.Duration { return 10 * time.Hour },
		Timeout: 30 * time.Minute, OperatorThreshold: time.Hour, Tiers: activity.Tiers{High: 30 * time.Hour, Medium: 20 * time.Hour, Low: 10 * time.Hour},
		Attrition: activity.AttritionRule{Months: 1, Drop: 0.3, History: 2},
		Calendar: func(_, line string) *calendar.Calendar {
			return map[string]*calendar.Calendar{"L1": l1, "L2": l2}[line]
		}}, nil)
	var sigs []signal.Signal
	t0 := time.Date(2026, 10, 23, 0, 0, 0, 0, loc)
	for i := 0; i < 5*24*4; i++ { // every 15 min for 5 days
		at := t0.Add(time.Duration(i) * 15 * time.Minute)
		for j, k := range reg {
			if (i+j)%7 == 0 {
				continue // a silence of 30 min now and then: unknown at the timeout
			}
			s := signal.Signal{Site: k.Key.Site, Line: k.Key.Line, Equipment: k.Key.Equipment, Time: at, Name: signal.Run, Value: signal.Bool((i/(3+j))%3 != 0)}
			sigs = append(sigs, s)
			if i%16 == 0 {
				s.Name, s.Value = signal.Operator, signal.String(fmt.Sprintf("op%d,op%d", j%3, i/16%4))
				sigs = append(sigs, s)
			}
		}
	}
	e.Apply(sigs)
	return e, loc
}

func resultKeys(r Result) map[string]any {
	out := map[string]any{}
	for _, f := range r.Equipment {
		out[fmt.Sprintf("eq %s %s %s %d %s", f.Key, f.Period.Kind, f.Period.Shift, f.Period.Start.UnixNano(), f.Period.End)] = f
	}
	for _, x := range r.Rollups {
		out[fmt.Sprintf("roll %s/%s %s %s %d", x.Site, x.Line, x.Period.Kind, x.Period.Shift, x.Period.Start.UnixNano())] = x
	}
	for _, o := range r.Operators {
		out[fmt.Sprintf("op %s/%s %s %d", o.Site, o.Line, o.Operator, o.Period.Start.UnixNano())] = o
	}
	return out
}

// Recomputing period by period gives exactly the figures Figures gives for
// the same range marked dirty for all equipment: the same points.
func TestPeriodFiguresMatchFigures(t *testing.T) {
	e, loc := reportEngine(t)
	from := time.Date(2026, 10, 24, 0, 0, 0, 0, loc)
	to := time.Date(2026, 10, 27, 0, 0, 0, 0, loc)
	dirty := Dirty{}
	for _, k := range e.Keys() {
		dirty.Mark(k, from.UnixNano(), to.UnixNano()-1)
	}
	want := resultKeys(e.Figures(dirty))
	got := map[string]any{}
	periods := e.Periods(from, to)
	kinds := map[string]int{}
	for _, p := range periods {
		kinds[p.Kind]++
		for k, v := range resultKeys(e.PeriodFigures(p)) {
			if _, dup := got[k]; dup {
				t.Fatalf("%s computed twice", k)
			}
			got[k] = v
		}
	}
	// 3 days with the 25 h one: 73 hours; shifts: L1 and L2 share the day
	// shifts (same name and start), nights from the 23rd to the 26th: 3 + 4.
	if kinds[activity.Hour] != 73 || kinds[activity.Day] != 3 || kinds[activity.Month] != 1 || kinds[activity.Shift] != 7 {
		t.Fatalf("periods per kind: %v", kinds)
	}
	if len(got) != len(want) {
		t.Errorf("%d figures period by period, %d from Figures", len(got), len(want))
	}
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !reflect.DeepEqual(got[k], want[k]) {
			t.Errorf("%s:\n got %+v\nwant %+v", k, got[k], want[k])
		}
	}
	if len(e.Operators(activity.MonthOf(from, loc))) == 0 {
		t.Fatal("no operator figures")
	}
}
