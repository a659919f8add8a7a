package masterdata

import (
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/calendar"
)

// Overrides returns, per line, the imported shift calendars as overrides of
// the line's calendar: on a day some of them cover, they are its shifts.
func Overrides(recs []Record, loc *time.Location) map[string][]calendar.Override {
	out := map[string][]calendar.Override{}
	for _, r := range recs {
		start, _ := calendar.ParseClock(r["start"])
		end, _ := calendar.ParseClock(r["end"])
		var days []string
		if r["days"] != "" {
			days = strings.Split(r["days"], ";")
		}
		wd, _ := calendar.ParseWeekdays(days)
		from, _ := ParseDate(r["valid_from"], loc)
		until, _ := ParseDate(r["valid_until"], loc)
		out[r["line"]] = append(out[r["line"]], calendar.Override{From: from, Until: until,
			Shifts: []calendar.Recurring{{Name: r["name"], Start: start, End: end, Days: wd}}})
	}
	return out
}

// WithOverrides returns the calendar of a line with its overrides: base
// itself without any, else a copy of base (around the clock when nil)
// holding them.
func WithOverrides(base *calendar.Calendar, ovs []calendar.Override, loc *time.Location) *calendar.Calendar {
	if len(ovs) == 0 {
		return base
	}
	c := calendar.Calendar{Loc: loc}
	if base != nil {
		c = *base
	}
	c.Overrides = append(append([]calendar.Override(nil), c.Overrides...), ovs...)
	return &c
}

// restateShifts returns, per line, from when a shift import changes its
// calendar: the earliest valid_from of a record added or changed, before
// or after (zero: from the beginning).
func restateShifts(changes []Change, loc *time.Location) map[string]time.Time {
	out := map[string]time.Time{}
	for _, c := range changes {
		if c.Entity != Shifts {
			continue
		}
		for _, r := range []Record{c.Before, c.After} {
			if r == nil {
				continue
			}
			from, _ := ParseDate(r["valid_from"], loc)
			if prev, ok := out[r["line"]]; !ok || earliest(prev, from).Equal(from) {
				out[r["line"]] = from
			}
		}
	}
	return out
}
