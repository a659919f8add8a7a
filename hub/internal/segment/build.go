package segment

import (
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
)

// Entity names what is judged: a machine (Line set) or an operator over
// the site (Line empty).
type Entity struct {
	Kind, Site, Line, ID string
	// InService is when it was put in service (zero: unknown).
	InService time.Time
	// FirstSeen is the first day it had any data, in the months looked at
	// (zero: not known).
	FirstSeen time.Time
}

// Build gathers an entity's history for month m from its run seconds per
// local day (run), over m and the History months before it. Days that
// start at or after asOf are not counted: for the month in progress asOf is
// now, for a past month any time from its end on.
func (r Rules) Build(e Entity, m activity.Period, asOf time.Time, loc *time.Location, run func(day activity.Period) float64) History {
	h := History{Kind: e.Kind, Site: e.Site, Line: e.Line, ID: e.ID, InService: e.InService, FirstSeen: e.FirstSeen}
	first := m
	for i := 0; i < r.History; i++ {
		first = activity.MonthOf(first.Start.Add(-time.Hour), loc)
	}
	for mm := first; !mm.Start.After(m.Start); mm = activity.MonthOf(mm.End, loc) {
		month := Month{Start: mm.Start}
		for _, d := range activity.Between(activity.Day, mm.Start, mm.End.Add(-time.Nanosecond), loc, nil) {
			judged := mm.Start.Equal(m.Start)
			if judged {
				h.MonthDays++
			}
			if !d.Start.Before(asOf) {
				continue
			}
			if judged {
				h.Days++
				h.AsOf = d.Start
			}
			s := run(d)
			month.RunHours += s / 3600
			if s > 0 && s >= r.ActiveDay.Seconds() {
				month.ActiveDays++
				if h.FirstActive.IsZero() {
					h.FirstActive = d.Start
				}
				h.LastActive = d.Start
			}
		}
		h.Months = append(h.Months, month)
	}
	if h.AsOf.IsZero() {
		h.AsOf = m.Start
	}
	return h
}

// AddParts adds the good parts of the judged month m (its days before
// asOf) from parts per local day, for a machine with a counter.
func (h *History) AddParts(m activity.Period, asOf time.Time, loc *time.Location, parts func(day activity.Period) float64) {
	var n float64
	for _, d := range activity.Between(activity.Day, m.Start, m.End.Add(-time.Nanosecond), loc, nil) {
		if d.Start.Before(asOf) {
			n += parts(d)
		}
	}
	h.Parts = &n
}
