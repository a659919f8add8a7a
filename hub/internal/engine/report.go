package engine

import (
	"sort"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Periods returns every period of the engine's kinds that overlaps [from,
// to), kind by kind (as configured) and in time order within a kind. Shift
// periods come from the lines' calendars, once per shift name and start.
func (e *Engine) Periods(from, to time.Time) []activity.Period {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if f := e.floorTime(); from.Before(f) {
		from = f // older periods are not restated (retain.go)
	}
	if !to.After(from) {
		return nil
	}
	last := to.Add(-time.Nanosecond)
	var out []activity.Period
	for _, kind := range e.opts.Kinds {
		if kind != activity.Shift {
			out = append(out, activity.Between(kind, from, last, e.opts.Location, nil)...)
			continue
		}
		type shiftKey struct {
			start int64
			name  string
		}
		seen := map[shiftKey]bool{}
		var shifts []activity.Period
		for _, lk := range e.sortedLines() {
			for _, p := range activity.Between(kind, from, last, e.opts.Location, e.opts.Calendar(lk.site, lk.line)) {
				sk := shiftKey{p.Start.UnixNano(), p.Shift}
				if !seen[sk] {
					seen[sk] = true
					shifts = append(shifts, p)
				}
			}
		}
		sort.SliceStable(shifts, func(i, j int) bool { return shifts[i].Start.Before(shifts[j].Start) })
		out = append(out, shifts...)
	}
	return out
}

// PeriodFigures returns the figures of one period (as Periods gives it):
// every equipment's on every line that has the period (for a shift: the
// lines whose calendar has a shift of that name starting then, each with its
// own end), their line and site rollups, and, for a month, the operator
// figures. Over every period of a range they are the figures Figures gives
// when the range is dirty for all equipment, so writing them replaces the
// same points.
func (e *Engine) PeriodFigures(p activity.Period) Result {
	if p.Kind == activity.Month {
		e.mu.Lock() // the operator month cache is written
		defer e.mu.Unlock()
	} else {
		e.mu.RLock()
		defer e.mu.RUnlock()
	}
	var res Result
	for _, lk := range e.sortedLines() {
		cal := e.opts.Calendar(lk.site, lk.line)
		lp := p
		if p.Kind == activity.Shift {
			found := false
			if cal != nil {
				for _, in := range cal.ShiftInstances(p.Start.UnixNano(), p.Start.UnixNano()+1) {
					if in.Start == p.Start.UnixNano() && in.Name == p.Shift {
						lp.End, found = time.Unix(0, in.End).In(e.opts.Location), true
						break
					}
				}
			}
			if !found {
				continue
			}
		}
		// The line's calendar is cut once for all its equipment.
		var spans []calendar.Span
		if cal != nil {
			spans = activity.CalendarSpans(cal, lp)
		}
		for _, k := range e.lines[lk] {
			eq := e.equipment[k]
			var thr time.Duration
			if lp.Kind == activity.Month {
				thr = e.opts.Threshold(eq.Class)
			}
			res.Equipment = append(res.Equipment, activity.ComputeSpans(eq, e.timelines[k], spans, lp, thr))
		}
	}
	res.Rollups = activity.RollUp(res.Equipment, e.opts.Tiers)
	if p.Kind == activity.Month {
		res.Operators = e.monthOperators(p)
	}
	return res
}

// Operators returns month m's operator figures, per line and per site,
// sorted by site, line (site-wide first) and operator.
func (e *Engine) Operators(m activity.Period) []activity.OperatorFigures {
	e.mu.Lock() // the operator month cache is written
	defer e.mu.Unlock()
	return e.monthOperators(m)
}

// monthOperators computes month m's operator figures afresh; e.mu is held for writing.
func (e *Engine) monthOperators(m activity.Period) []activity.OperatorFigures {
	for _, lk := range e.sortedLines() {
		delete(e.opMonths, opMonthKey{lk.site, lk.line, m.Start.UnixNano()})
	}
	out := e.operators(m, nil)
	activity.SortOperators(out)
	return out
}

// Keys returns every known equipment (registered or reporting), sorted.
func (e *Engine) Keys() []signal.Key {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]signal.Key, 0, len(e.equipment))
	for k := range e.equipment {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
