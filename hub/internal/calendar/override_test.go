package calendar

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// describe writes spans as "kind shift start-end" in local time.
func describe(spans []Span, loc *time.Location) string {
	var out []string
	for _, s := range spans {
		out = append(out, fmt.Sprintf("%s %s %s-%s", s.Kind, s.Shift, time.Unix(0, s.Start).In(loc).Format("01-02T15:04"), time.Unix(0, s.End).In(loc).Format("01-02T15:04")))
	}
	return strings.Join(out, ", ")
}

// From its first day an override's shifts replace the calendar's (a night
// shift that began the day before keeps its own), up to its last day; an
// around-the-clock calendar keeps running around the clock on days no
// override covers.
func TestOverrides(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, loc) }
	at := func(m time.Month, d, h int) int64 { return time.Date(2026, m, d, h, 0, 0, 0, loc).UnixNano() }
	three := Calendar{Loc: loc, Shifts: []Recurring{{Name: "early", Start: clock(t, "06:00"), End: clock(t, "14:00")},
		{Name: "late", Start: clock(t, "14:00"), End: clock(t, "22:00")}, {Name: "night", Start: clock(t, "22:00"), End: clock(t, "06:00")}},
		Stops: []Recurring{{Name: "break", Start: clock(t, "10:00"), End: clock(t, "10:30")}}}
	two := three
	two.Overrides = []Override{
		{From: day(11, 1), Until: day(11, 3), Shifts: []Recurring{{Name: "A", Start: clock(t, "06:00"), End: clock(t, "18:00")}}},
		{From: day(11, 1), Until: day(11, 3), Shifts: []Recurring{{Name: "B", Start: clock(t, "18:00"), End: clock(t, "06:00")}}},
	}
	got := describe(two.Spans(at(10, 31, 20), at(11, 3, 8)), loc)
	want := "shift late 10-31T20:00-10-31T22:00, shift night 10-31T22:00-11-01T06:00, " +
		"shift A 11-01T06:00-11-01T10:00, planned_stop A 11-01T10:00-11-01T10:30, shift A 11-01T10:30-11-01T18:00, shift B 11-01T18:00-11-02T06:00, " +
		"shift A 11-02T06:00-11-02T10:00, planned_stop A 11-02T10:00-11-02T10:30, shift A 11-02T10:30-11-02T18:00, shift B 11-02T18:00-11-03T06:00, " +
		"shift early 11-03T06:00-11-03T08:00"
	if got != want {
		t.Fatalf("spans\n%s\nwant\n%s", got, want)
	}
	if got := describe(three.Spans(at(10, 31, 20), at(11, 1, 8)), loc); got != "shift late 10-31T20:00-10-31T22:00, shift night 10-31T22:00-11-01T06:00, shift early 11-01T06:00-11-01T08:00" {
		t.Fatalf("without overrides: %s", got)
	}
	// Around the clock, but only an early shift over Christmas.
	xmas := Calendar{Loc: loc, Overrides: []Override{{From: day(12, 24), Until: day(12, 27),
		Shifts: []Recurring{{Name: "early", Start: clock(t, "06:00"), End: clock(t, "14:00")}}}}}
	got = describe(xmas.Spans(at(12, 23, 20), at(12, 24, 16)), loc)
	if want := "shift  12-23T20:00-12-24T00:00, no_shift  12-24T00:00-12-24T06:00, shift early 12-24T06:00-12-24T14:00, no_shift  12-24T14:00-12-24T16:00"; got != want {
		t.Fatalf("around the clock\n%s\nwant\n%s", got, want)
	}
	// The shifts to write figures for are the named ones only.
	if in := xmas.ShiftInstances(at(12, 23, 0), at(12, 28, 0)); len(in) != 3 || in[0].Name != "early" || in[2].Start != at(12, 26, 6) {
		t.Fatalf("instances %+v", in)
	}
}

// A stop override replaces the calendar's recurring planned stops on the
// days it covers, and only those (a stop across midnight belongs to the day
// it starts: the one of the 30th ends on the 31st at 04:00, before the
// 31st's own break); the shifts and closures stay. On the day of the DST
// change (23 h) a stop from 01:00 to 04:00 holds 2 h.
func TestStopOverrides(t *testing.T) {
	loc := mustLoc(t, "Europe/Berlin")
	day := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 0, 0, 0, 0, loc) }
	at := func(m time.Month, d, h, min int) int64 { return time.Date(2026, m, d, h, min, 0, 0, loc).UnixNano() }
	cal := Calendar{Loc: loc, Stops: []Recurring{{Name: "break", Start: clock(t, "10:00"), End: clock(t, "10:30")}},
		Closures: []Closure{{Name: "fire drill", From: time.Unix(0, at(3, 30, 14, 0)), To: time.Unix(0, at(3, 30, 15, 0))}},
		StopOverrides: []Override{
			{From: day(3, 29), Until: day(3, 31), Shifts: []Recurring{{Name: "maint", Start: clock(t, "23:00"), End: clock(t, "04:00")}}},
		}}
	got := describe(cal.Spans(at(3, 28, 9, 0), at(3, 31, 11, 0)), loc)
	want := "shift  03-28T09:00-03-28T10:00, planned_stop  03-28T10:00-03-28T10:30, shift  03-28T10:30-03-29T23:00, " +
		"planned_stop  03-29T23:00-03-30T04:00, shift  03-30T04:00-03-30T14:00, planned_stop  03-30T14:00-03-30T15:00, " +
		"shift  03-30T15:00-03-30T23:00, planned_stop  03-30T23:00-03-31T04:00, " +
		"shift  03-31T04:00-03-31T10:00, planned_stop  03-31T10:00-03-31T10:30, shift  03-31T10:30-03-31T11:00"
	if got != want {
		t.Fatalf("spans\n%s\nwant\n%s", got, want)
	}
	// The DST day (29 March, 23 h): a stop 01:00-04:00 holds 2 h.
	dst := Calendar{Loc: loc, StopOverrides: []Override{{From: day(3, 29), Until: day(3, 30),
		Shifts: []Recurring{{Name: "maint", Start: clock(t, "01:00"), End: clock(t, "04:00")}}}}}
	var stopped int64
	for _, s := range dst.Spans(day(3, 29).UnixNano(), day(3, 30).UnixNano()) {
		if s.Kind == PlannedStop {
			stopped += s.End - s.Start
		}
	}
	if time.Duration(stopped) != 2*time.Hour {
		t.Fatalf("planned stop on the DST day: %s", time.Duration(stopped))
	}
}
