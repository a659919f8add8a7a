package web

import (
	"net/url"
	"sort"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
)

// periodsView is a page's month by day and by shift (the overview's of
// the site, a line's, a machine's), from package api's breakdowns: the day
// chart's data goes to the script, the shift table is rendered here.
type periodsView struct {
	// Days are the month's days (the chart's); AnyOEE: some day has OEE.
	Days   []api.PeriodJSON
	AnyOEE bool
	// Shifts names the shifts in the order they start in a day; Rows are
	// the month's days that have shifts.
	Shifts []string
	Rows   []shiftRow
	// Totals are each shift's over the month, in the order of Shifts.
	Totals []shiftTotal
	// Query is the breakdown's scope as the API takes it (line=&equipment=).
	Query string
}

// shiftTotal is a shift over the month: the summed loss hours of its
// occurrences, so its OEE is their fully productive time over their
// planned busy time (as a line's is over its machines), and the largest of
// the summed losses.
type shiftTotal struct {
	Shift    string
	OEE      *float64
	MainLoss string
	Loss     api.LossJSON
}

// shiftRow is one day of the shift table: its shifts by name (nil: none
// that day).
type shiftRow struct {
	Day   string
	Cells []*api.PeriodJSON
}

// periods breaks month m of sc down by day and by shift.
func (h *handler) periods(m activity.Period, sc engine.Scope) *periodsView {
	days, err := api.Breakdown(h.opts.Engine, h.opts.Location, m, activity.Day, sc)
	if err != nil {
		return nil
	}
	shifts, err := api.Breakdown(h.opts.Engine, h.opts.Location, m, activity.Shift, sc)
	if err != nil {
		return nil
	}
	q := url.Values{}
	if sc.Line != "" {
		q.Set("line", sc.Line)
	}
	if sc.Equipment != "" {
		q.Set("equipment", sc.Equipment)
	}
	v := &periodsView{Days: days.Periods, Query: q.Encode()}
	for _, d := range days.Periods {
		if d.OEE != nil && d.OEE.OEE != nil {
			v.AnyOEE = true
		}
	}
	// Shift names by their time of day (minutes from midnight; a night
	// shift starting at 22:00 comes last).
	order := map[string]int{}
	for _, p := range shifts.Periods {
		if _, ok := order[p.Shift]; !ok {
			order[p.Shift] = p.Start.Hour()*60 + p.Start.Minute()
			v.Shifts = append(v.Shifts, p.Shift)
		}
	}
	sort.Slice(v.Shifts, func(i, j int) bool {
		a, b := v.Shifts[i], v.Shifts[j]
		return order[a] < order[b] || order[a] == order[b] && a < b
	})
	col := map[string]int{}
	for i, s := range v.Shifts {
		col[s] = i
	}
	row := map[string]int{}
	for i := range shifts.Periods {
		p := &shifts.Periods[i]
		day := p.Start.In(h.opts.Location).Format(time.DateOnly)
		r, ok := row[day]
		if !ok {
			r = len(v.Rows)
			row[day] = r
			v.Rows = append(v.Rows, shiftRow{Day: day, Cells: make([]*api.PeriodJSON, len(v.Shifts))})
		}
		v.Rows[r].Cells[col[p.Shift]] = p
	}
	v.Totals = make([]shiftTotal, len(v.Shifts))
	for i, name := range v.Shifts {
		v.Totals[i].Shift = name
	}
	for _, p := range shifts.Periods {
		if p.OEE == nil || p.OEE.LossHours == nil {
			continue
		}
		t, l := &v.Totals[col[p.Shift]], p.OEE.LossHours
		t.Loss.Availability += l.Availability
		t.Loss.Performance += l.Performance
		t.Loss.Quality += l.Quality
		t.Loss.Productive += l.Productive
	}
	for i := range v.Totals {
		t := &v.Totals[i]
		l := t.Loss
		if pbt := l.Availability + l.Performance + l.Quality + l.Productive; pbt > 0 {
			o := l.Productive / pbt
			t.OEE = &o
			t.MainLoss = api.MainLoss(&api.OEEJSON{LossHours: &l})
		}
	}
	return v
}

// days is the day chart's data for the script (none without a view).
func (v *periodsView) days() []api.PeriodJSON {
	if v == nil || !v.AnyOEE {
		return []api.PeriodJSON{}
	}
	return v.Days
}
