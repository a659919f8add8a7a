package engine

import (
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// History is an equipment's state and operator sessions over a range, as
// its timeline says them (the line's calendar applied), for timelines and
// per-day figures on the hub's pages.
type History struct {
	// States cut [from, to) into segments of one state each, in order and
	// without gaps (unknown where the data says nothing).
	States []state.Seg
	// Operators are the stretches with operators logged in.
	Operators []state.OpSeg
}

// History returns k's history over [from, to); ok is false when k is not
// known (neither registered nor reporting).
func (e *Engine) History(k signal.Key, from, to time.Time) (History, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if _, known := e.equipment[k]; !known {
		return History{}, false
	}
	a, b := from.UnixNano(), to.UnixNano()
	if b <= a {
		return History{}, true
	}
	tl := e.timelines[k]
	if tl == nil {
		return History{States: []state.Seg{{Start: a, End: b, State: state.Unknown}}}, true
	}
	cal := e.opts.Calendar(k.Site, k.Line)
	var h History
	if cal != nil {
		h.States = tl.Segments(a, b, cal.Spans(a, b))
	} else {
		h.States = tl.Segments(a, b, nil)
	}
	h.Operators = tl.OpSegments(a, b)
	return h, true
}

// EquipmentFigures returns k's figures over period p, as Month computes
// them for every equipment; ok is false when k is not known.
func (e *Engine) EquipmentFigures(k signal.Key, p activity.Period) (activity.Figures, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if _, known := e.equipment[k]; !known {
		return activity.Figures{}, false
	}
	return e.compute(k, e.opts.Calendar(k.Site, k.Line), p), true
}

// Shifts returns the shift occurrences of a line's calendar that start in
// [from, to), in order; none when the line works around the clock.
func (e *Engine) Shifts(site, line string, from, to time.Time) []calendar.Instance {
	cal := e.opts.Calendar(site, line)
	if cal == nil {
		return nil
	}
	var out []calendar.Instance
	for _, in := range cal.ShiftInstances(from.UnixNano(), to.UnixNano()) {
		if in.Start >= from.UnixNano() && in.Start < to.UnixNano() {
			out = append(out, in)
		}
	}
	return out
}

// Tier is the tier of an equipment month of run time run (as the line
// rollups count them).
func (e *Engine) Tier(run time.Duration) string { return e.opts.Tiers.Of(run) }
