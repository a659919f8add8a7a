package report

import (
	"fmt"
	"sort"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/action"
	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/api"
)

// TrendMonths is how many months the trend chart covers, the report's
// month last.
const TrendMonths = 12

// Source is where a report's figures come from: a running hub's API, the
// state store, or the hub's own engine. Each answers as the API does.
type Source interface {
	// Month is the month's figures (/api/v1/months/{month}).
	Month(month string) (api.MonthJSON, error)
	// Operators is the month's operator figures (/api/v1/months/{month}/operators).
	Operators(month string) ([]api.OperatorJSON, error)
	// Events are the anomaly events whose time overlaps [from, to), in any status.
	Events(from, to time.Time) ([]anomaly.Record, error)
}

// Data is everything the full report shows.
type Data struct {
	Month
	// Trend is the site and line figures of the TrendMonths months ending
	// with the report's, oldest first.
	Trend  []api.MonthJSON `json:"trend"`
	Events []anomaly.Record
	// Segments are the month's segments (nil when the source has none),
	// Actions the actions opened, due or done in it.
	Segments *api.SegmentsJSON `json:"segments,omitempty"`
	// Days and Shifts are every line's days and shifts of the month, in
	// the order of Lines (nil when the source has no breakdowns).
	Days     []api.BreakdownJSON `json:"days,omitempty"`
	Shifts   []api.BreakdownJSON `json:"shifts,omitempty"`
	Actions  []action.JSON       `json:"actions,omitempty"`
	Location *time.Location      `json:"-"`
}

// Build gathers a month's report from src; month is YYYY-MM in loc.
func Build(src Source, month string, loc *time.Location) (Data, error) {
	m, err := activity.ParseMonth(month, loc)
	if err != nil {
		return Data{}, fmt.Errorf("month %q: want YYYY-MM", month)
	}
	d := Data{Location: loc}
	if d.MonthJSON, err = src.Month(m.Name()); err != nil {
		return Data{}, err
	}
	if d.Operators, err = src.Operators(m.Name()); err != nil {
		return Data{}, err
	}
	var back []api.MonthJSON
	p := m
	for i := 1; i < TrendMonths; i++ {
		p = activity.MonthOf(p.Start.Add(-time.Hour), loc)
		mj, err := src.Month(p.Name())
		if err != nil {
			return Data{}, err
		}
		back = append(back, mj)
	}
	for i := len(back) - 1; i >= 0; i-- {
		d.Trend = append(d.Trend, back[i])
	}
	d.Trend = append(d.Trend, d.MonthJSON)
	if d.Events, err = src.Events(m.Start, m.End); err != nil {
		return Data{}, err
	}
	d.Events = EventsIn(d.Events, m.Start, m.End)
	if ss, ok := src.(SegmentSource); ok {
		sj, err := ss.Segments(m.Name())
		if err != nil {
			return Data{}, err
		}
		if len(sj.Assignments) > 0 {
			d.Segments = &sj
		}
	}
	if bs, ok := src.(BreakdownSource); ok {
		if err := breakdowns(bs, &d); err != nil {
			return Data{}, err
		}
	}
	if as, ok := src.(ActionSource); ok {
		if d.Actions, err = as.Actions(m.Name()); err != nil {
			return Data{}, err
		}
	}
	return d, nil
}

// EventsIn keeps the latest revision of each event whose time overlaps
// [from, to) (an open event lasts until now), ordered by start and id.
func EventsIn(recs []anomaly.Record, from, to time.Time) []anomaly.Record {
	latest := map[string]anomaly.Record{}
	for _, r := range recs {
		if o, ok := latest[r.ID]; ok && o.Revision >= r.Revision {
			continue
		}
		latest[r.ID] = r
	}
	var out []anomaly.Record
	for _, r := range latest {
		if !r.Start.Before(to) || (r.End != nil && r.End.Before(from)) {
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// closed reports whether an event is closed: resolved, or its condition over.
func closed(r anomaly.Record) bool { return r.Status == anomaly.Resolved }
