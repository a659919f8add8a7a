package engine

import (
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
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
