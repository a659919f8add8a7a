package calendar

import (
	"sort"
	"time"
)

// Override replaces a calendar's shifts on the days from From up to Until
// (local midnights; a zero bound is open): on a day some overrides cover,
// the shifts starting that day are theirs, all of them, and not the
// calendar's own. Imported shift calendars are overrides.
type Override struct {
	From, Until time.Time
	Shifts      []Recurring
}

// covers reports whether the override holds on the day starting at day.
func (o Override) covers(day time.Time) bool {
	return (o.From.IsZero() || !day.Before(o.From)) && (o.Until.IsZero() || day.Before(o.Until))
}

// shiftInstances returns the shift occurrences overlapping [a, b): the
// calendar's own shifts, or on days an override covers, the override's.
// With allDay, a day that an around-the-clock calendar (no shifts) holds
// without an override is one unnamed shift from midnight to midnight
// (scheduled time for Spans; not a shift to write figures for).
func (c *Calendar) shiftInstances(a, b int64, allDay bool) []Instance {
	if len(c.Overrides) == 0 {
		return instances(c.Shifts, c.Loc, a, b)
	}
	var out []Instance
	if b <= a {
		return nil
	}
	la := time.Unix(0, a).In(c.Loc)
	day := time.Date(la.Year(), la.Month(), la.Day()-1, 0, 0, 0, 0, c.Loc)
	for ; day.UnixNano() < b; day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, c.Loc) {
		var ws []Recurring
		overridden := false
		for _, o := range c.Overrides {
			if o.covers(day) {
				ws, overridden = append(ws, o.Shifts...), true
			}
		}
		if !overridden {
			ws = c.Shifts
		}
		next := time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, c.Loc)
		if !overridden && len(ws) == 0 {
			if allDay && next.UnixNano() > a {
				out = append(out, Instance{Start: day.UnixNano(), End: next.UnixNano()})
			}
			continue
		}
		// The windows of this one day (instances looks from the day before
		// its start, for shifts that end after midnight).
		for _, in := range instances(ws, c.Loc, day.UnixNano(), next.UnixNano()) {
			if in.Start >= day.UnixNano() && in.Start < next.UnixNano() && in.End > a && in.Start < b {
				out = append(out, in)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}
