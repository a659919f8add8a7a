package masterdata

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/calendar"
)

// Calendars are the imported calendar records of the lines of the hub's
// site, as the calendars take them: a line's imported shifts and planned
// stops replace its configured ones on the days they hold (overrides), its
// imported closures are added to the configured ones.
type Calendars struct {
	// Shifts are per line the imported shift calendars.
	Shifts map[string][]calendar.Override
	// Stops are per line the imported planned stops (stop overrides).
	Stops map[string][]calendar.Override
	// Closures are per line the imported closures that take place; those
	// of AllLines hold for every line.
	Closures map[string][]calendar.Closure
}

// CalendarsOf returns the calendars of imported shift, planned stop and
// closure records.
func CalendarsOf(shifts, stops, closures []Record, loc *time.Location) Calendars {
	c := Calendars{Shifts: Overrides(shifts, loc), Stops: Overrides(stops, loc), Closures: map[string][]calendar.Closure{}}
	for _, r := range closures {
		if r["cancelled"] != "" {
			continue
		}
		from, _ := ParseDate(r["from"], loc)
		to, _ := ParseDate(r["to"], loc)
		c.Closures[r["line"]] = append(c.Closures[r["line"]], calendar.Closure{Name: r["name"], From: from, To: to})
	}
	return c
}

// Lines returns the lines with imported records of their own, sorted
// (AllLines is not one).
func (c Calendars) Lines() []string {
	set := map[string]bool{}
	for _, m := range []map[string][]calendar.Override{c.Shifts, c.Stops} {
		for l := range m {
			set[l] = true
		}
	}
	for l := range c.Closures {
		set[l] = l != AllLines
	}
	lines := slices.Sorted(maps.Keys(set))
	return slices.DeleteFunc(lines, func(l string) bool { return !set[l] })
}

// Of returns the calendar of a line of the hub's site: base (the
// configuration's; nil: around the clock) itself when no imported record
// concerns the line, else a copy of base with them.
func (c Calendars) Of(base *calendar.Calendar, line string, loc *time.Location) *calendar.Calendar {
	shifts, stops := c.Shifts[line], c.Stops[line]
	closures := append(slices.Clone(c.Closures[AllLines]), c.Closures[line]...)
	if len(shifts)+len(stops)+len(closures) == 0 {
		return base
	}
	cal := calendar.Calendar{Loc: loc}
	if base != nil {
		cal = *base
	}
	cal.Overrides = append(slices.Clone(cal.Overrides), shifts...)
	cal.StopOverrides = append(slices.Clone(cal.StopOverrides), stops...)
	cal.Closures = append(slices.Clone(cal.Closures), closures...)
	return &cal
}

// Overrides returns, per line, imported shift calendars (or planned stops)
// as overrides of the line's calendar: on a day some of them cover, they
// are its shifts (or its planned stops). A planned stop without times
// covers its days with no stop.
func Overrides(recs []Record, loc *time.Location) map[string][]calendar.Override {
	out := map[string][]calendar.Override{}
	for _, r := range recs {
		if r["start"] == "" && r["end"] == "" {
			from, _ := ParseDate(r["valid_from"], loc)
			until, _ := ParseDate(r["valid_until"], loc)
			out[r["line"]] = append(out[r["line"]], calendar.Override{From: from, Until: until})
			continue
		}
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

// calendarEntity reports whether e's records change the lines' calendars.
func calendarEntity(e Entity) bool { return e == Shifts || e == PlannedStops || e == Closures }

// restateLines returns, per line (AllLines: every line of the hub's site),
// from when an import of shifts, planned stops or closures changes its
// calendar: the earliest start (valid_from, or a closure's from) of a
// record added or changed, before or after (zero: from the beginning).
func restateLines(changes []Change, loc *time.Location) map[string]time.Time {
	out := map[string]time.Time{}
	for _, c := range changes {
		col := "valid_from"
		switch {
		case c.Entity == Closures:
			col = "from"
		case !calendarEntity(c.Entity):
			continue
		}
		for _, r := range []Record{c.Before, c.After} {
			if r == nil {
				continue
			}
			from, _ := ParseDate(r[col], loc)
			if prev, ok := out[r["line"]]; !ok || earliest(prev, from).Equal(from) {
				out[r["line"]] = from
			}
		}
	}
	return out
}
