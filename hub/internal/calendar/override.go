package calendar

import (
	"sort"
	"time"
)

// Override replaces a calendar's shifts (an override of Calendar.Overrides)
// or its recurring planned stops (one of Calendar.StopOverrides) on the
// days from From up to Until (local midnights; a zero bound is open): on a
// day some overrides cover, the windows starting that day are theirs, all
// of them, and not the calendar's own. Imported shift calendars and
// imported planned stops are overrides.
type Override struct {
	From, Until time.Time
	// Shifts are the windows the override puts in place: shifts, or
	// planned stops for a stop override.
	Shifts []Recurring
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
	return daily(c.Shifts, c.Overrides, c.Loc, a, b, allDay)
}

// stopInstances returns the recurring planned stops overlapping [a, b):
// the calendar's own, or on days a stop override covers, the override's.
func (c *Calendar) stopInstances(a, b int64) []Instance {
	return daily(c.Stops, c.StopOverrides, c.Loc, a, b, false)
}

// daily returns the occurrences overlapping [a, b) of the windows own, or
// on a day some overrides cover, of theirs; a window belongs to the day it
// starts. With allDay, a day without windows nor overrides is one unnamed
// window from midnight to midnight.
func daily(own []Recurring, ovs []Override, loc *time.Location, a, b int64, allDay bool) []Instance {
	if len(ovs) == 0 {
		return instances(own, loc, a, b)
	}
	var out []Instance
	if b <= a {
		return nil
	}
	la := time.Unix(0, a).In(loc)
	day := time.Date(la.Year(), la.Month(), la.Day()-1, 0, 0, 0, 0, loc)
	for ; day.UnixNano() < b; day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc) {
		var ws []Recurring
		overridden := false
		for _, o := range ovs {
			if o.covers(day) {
				ws, overridden = append(ws, o.Shifts...), true
			}
		}
		if !overridden {
			ws = own
		}
		next := time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, loc)
		if !overridden && len(ws) == 0 {
			if allDay && next.UnixNano() > a {
				out = append(out, Instance{Start: day.UnixNano(), End: next.UnixNano()})
			}
			continue
		}
		// The windows of this one day (instances looks from the day before
		// its start, for shifts that end after midnight).
		for _, in := range instances(ws, loc, day.UnixNano(), next.UnixNano()) {
			if in.Start >= day.UnixNano() && in.Start < next.UnixNano() && in.End > a && in.Start < b {
				out = append(out, in)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start < out[j].Start })
	return out
}
