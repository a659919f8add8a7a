package alert

import (
	"slices"
	"testing"
	"time"
)

// A dated roster names the leaders of one shift of one line on one date
// (the date the shift starts: the night of 24/25 October is the 24th's);
// other dates, shifts and lines keep the roster by line and shift, and a
// replaced dated roster takes effect at once.
func TestDatedRoster(t *testing.T) {
	cal := threeShifts()
	p := policy()
	p.Roster.Dated = &Dated{}
	to := func(line, at string) []string {
		t.Helper()
		when := local(at)
		_, notes := p.Step(State{}, downtime(line, when), cal, when.Add(time.Minute))
		if len(notes) != 1 {
			t.Fatalf("%s %s: %+v", line, at, notes)
		}
		return notes[0].People
	}
	if got := to("L1", "2026-10-25 03:00"); !slices.Equal(got, []string{"carol"}) {
		t.Fatalf("before: %v", got)
	}
	p.Roster.Dated.Set(map[DatedKey][]string{
		{Date: "2026-10-24", Line: "L1", Shift: "night"}: {"bob", "dave"},
		{Date: "2026-10-25", Line: "L9", Shift: "early"}: {"alice"},
		{Date: "2026-10-26", Line: "L1", Shift: "early"}: {}, // nobody named: the roster by shift
	})
	for _, tc := range []struct {
		line, at string
		want     []string
	}{
		{"L1", "2026-10-24 23:00", []string{"bob", "dave"}},
		{"L1", "2026-10-25 05:30", []string{"bob", "dave"}}, // same night, next calendar day
		{"L1", "2026-10-25 23:00", []string{"carol"}},       // the next night
		{"L1", "2026-10-25 07:00", []string{"alice"}},       // another shift
		{"L9", "2026-10-25 07:00", []string{"alice"}},       // a line only the dated roster names
		{"L9", "2026-10-26 07:00", []string{"dave"}},        // its other dates: the "*" roster
		{"L1", "2026-10-26 07:00", []string{"alice"}},
	} {
		if got := to(tc.line, tc.at); !slices.Equal(got, tc.want) {
			t.Errorf("%s %s: %v, want %v", tc.line, tc.at, got, tc.want)
		}
	}
}
