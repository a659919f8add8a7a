package calendar

import (
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func clock(t *testing.T, s string) Clock {
	t.Helper()
	c, err := ParseClock(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sum(spans []Span) map[Kind]time.Duration {
	out := map[Kind]time.Duration{}
	for _, s := range spans {
		out[s.Kind] += time.Duration(s.End - s.Start)
	}
	return out
}

func TestSpansCoverWithoutGaps(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	weekdays, _ := ParseWeekdays([]string{"mon-fri"})
	c := Calendar{Loc: loc,
		Shifts: []Recurring{{Name: "early", Start: clock(t, "06:00"), End: clock(t, "14:00"), Days: weekdays},
			{Name: "late", Start: clock(t, "14:00"), End: clock(t, "22:00"), Days: weekdays}},
		Stops: []Recurring{{Name: "lunch", Start: clock(t, "12:00"), End: clock(t, "12:30")}},
	}
	// One week: Monday 2026-10-05 to Monday 2026-10-12.
	a := time.Date(2026, 10, 5, 0, 0, 0, 0, loc).UnixNano()
	b := time.Date(2026, 10, 12, 0, 0, 0, 0, loc).UnixNano()
	spans := c.Spans(a, b)
	if spans[0].Start != a || spans[len(spans)-1].End != b {
		t.Fatalf("spans do not cover the range")
	}
	for i := 1; i < len(spans); i++ {
		if spans[i].Start != spans[i-1].End {
			t.Fatalf("gap or overlap at %d", i)
		}
	}
	got := sum(spans)
	// 5 days x 16 h scheduled, of which 5 x 30 min lunch.
	if got[Shift] != 5*(16*time.Hour-30*time.Minute) || got[PlannedStop] != 5*30*time.Minute || got[NoShift] != 7*24*time.Hour-5*16*time.Hour {
		t.Fatalf("got %v", got)
	}
	// Shift instance names and starts.
	if spans[1].Shift != "early" || time.Unix(0, spans[1].ShiftStart).In(loc).Hour() != 6 {
		t.Fatalf("second span %+v", spans[1])
	}
}

func TestNightShiftAcrossDST(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	c := Calendar{Loc: loc, Shifts: []Recurring{{Name: "night", Start: clock(t, "22:00"), End: clock(t, "06:00")}}}
	// The night of 2026-10-24/25 holds the change back from CEST to CET: 9 hours.
	a := time.Date(2026, 10, 24, 12, 0, 0, 0, loc).UnixNano()
	b := time.Date(2026, 10, 25, 12, 0, 0, 0, loc).UnixNano()
	got := sum(c.Spans(a, b))
	if got[Shift] != 9*time.Hour || got[NoShift] != 16*time.Hour {
		t.Fatalf("fall back night: %v", got)
	}
	// Spring forward: 2026-03-28/29, 7 hours.
	a = time.Date(2026, 3, 28, 12, 0, 0, 0, loc).UnixNano()
	b = time.Date(2026, 3, 29, 12, 0, 0, 0, loc).UnixNano()
	got = sum(c.Spans(a, b))
	if got[Shift] != 7*time.Hour || got[NoShift] != 16*time.Hour {
		t.Fatalf("spring forward night: %v", got)
	}
	// The shift instance of the 22:00 start is named with its start.
	sp := c.Spans(time.Date(2026, 3, 29, 1, 0, 0, 0, loc).UnixNano(), time.Date(2026, 3, 29, 1, 30, 0, 0, loc).UnixNano())
	if len(sp) != 1 || time.Unix(0, sp[0].ShiftStart).In(loc).Day() != 28 {
		t.Fatalf("night instance %+v", sp)
	}
}

func TestAroundTheClockAndClosures(t *testing.T) {
	loc := time.UTC
	c := Calendar{Loc: loc, Closures: []Closure{{Name: "xmas", From: time.Date(2026, 12, 24, 0, 0, 0, 0, loc), To: time.Date(2026, 12, 27, 0, 0, 0, 0, loc)}}}
	a := time.Date(2026, 12, 1, 0, 0, 0, 0, loc).UnixNano()
	b := time.Date(2027, 1, 1, 0, 0, 0, 0, loc).UnixNano()
	got := sum(c.Spans(a, b))
	if got[Shift] != 28*24*time.Hour || got[PlannedStop] != 3*24*time.Hour || got[NoShift] != 0 {
		t.Fatalf("got %v", got)
	}
}

func TestParse(t *testing.T) {
	w, err := ParseWeekdays([]string{"fri-mon"})
	if err != nil || !w.Has(time.Friday) || !w.Has(time.Sunday) || !w.Has(time.Monday) || w.Has(time.Tuesday) {
		t.Fatalf("fri-mon: %b %v", w, err)
	}
	if _, err := ParseWeekdays([]string{"moon"}); err == nil {
		t.Fatal("moon accepted")
	}
	for _, bad := range []string{"6:00", "25:00", "12:60", "24:01", "ab:cd"} {
		if _, err := ParseClock(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if c, err := ParseClock("24:00"); err != nil || c != 24*60 {
		t.Fatalf("24:00: %v %v", c, err)
	}
}
