package engine

import (
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// On a site whose lines have shifts of one name and start but different
// ends, the site's shift is one slice: each line's machines over their own
// shift (L1 06-14, L2 06-15), the slice ending with the latest; a line
// without shifts has none; unknown scopes are not ok.
func TestBreakdownShiftsAcrossLines(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	m1 := signal.Key{Site: "s", Line: "L1", Equipment: "M1"}
	m2 := signal.Key{Site: "s", Line: "L2", Equipment: "M2"}
	m3 := signal.Key{Site: "s", Line: "L3", Equipment: "M3"}
	cals := map[string]*calendar.Calendar{
		"L1": {Loc: loc, Shifts: []calendar.Recurring{{Name: "early", Start: 6 * 60, End: 14 * 60}}},
		"L2": {Loc: loc, Shifts: []calendar.Recurring{{Name: "early", Start: 6 * 60, End: 15 * 60}}},
	}
	e := New(Options{Location: loc, Threshold: func(string) time.Duration { return time.Hour },
		Registry: []activity.Equipment{{Key: m1}, {Key: m2}, {Key: m3}},
		Calendar: func(_, line string) *calendar.Calendar { return cals[line] }}, nil)
	at := func(h int) time.Time { return time.Date(2026, 10, 5, h, 0, 0, 0, loc) }
	var sigs []signal.Signal
	for _, k := range []signal.Key{m1, m2, m3} {
		sigs = append(sigs, signal.Signal{Site: "s", Line: k.Line, Equipment: k.Equipment, Name: signal.Run, Value: signal.Bool(true), Time: at(5)},
			signal.Signal{Site: "s", Line: k.Line, Equipment: k.Equipment, Name: signal.Run, Value: signal.Bool(false), Time: at(20)})
	}
	e.Apply(sigs)
	day := activity.DayOf(at(0), loc)
	site, ok := e.Breakdown(activity.Shift, day.Start, day.End, Scope{Site: "s"})
	if !ok || len(site) != 1 {
		t.Fatalf("site shifts: %v %d", ok, len(site))
	}
	s := site[0]
	if s.Period.Shift != "early" || !s.Period.Start.Equal(at(6)) || !s.Period.End.Equal(at(15)) || !s.HasRollup {
		t.Fatalf("the site's early shift: %+v", s.Period)
	}
	if len(s.Equipment) != 2 || s.Rollup.RunSeconds() != (8+9)*3600 {
		t.Errorf("the site's early shift: %d machines, %v s run, want M1 8 h and M2 9 h", len(s.Equipment), s.Rollup.RunSeconds())
	}
	l3, ok := e.Breakdown(activity.Shift, day.Start, day.End, Scope{Site: "s", Line: "L3"})
	if !ok || len(l3) != 0 {
		t.Errorf("L3 works around the clock, yet %d shifts", len(l3))
	}
	days, ok := e.Breakdown(activity.Day, day.Start, day.End, Scope{Site: "s", Line: "L3", Equipment: "M3"})
	if !ok || len(days) != 1 || days[0].Equipment[0].RunSeconds() != 15*3600 {
		t.Errorf("M3's day: %v %+v", ok, days)
	}
	for _, sc := range []Scope{{Site: "s", Line: "L9"}, {Site: "s", Line: "L1", Equipment: "M9"}} {
		if _, ok := e.Breakdown(activity.Day, day.Start, day.End, sc); ok {
			t.Errorf("%+v: ok", sc)
		}
	}
}
