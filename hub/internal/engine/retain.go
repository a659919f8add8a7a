package engine

import "time"

// Retention bounds what the engine keeps and restates. Below the floor
// (the start of the oldest restatable month) nothing is restated: signals
// older than it are set aside (counted as too late), a lost range is
// placed from it on, pending ranges and recomputes are cut at it, and the
// engine's span starts at it, so the figures written for older periods stay
// as they are in InfluxDB. The timelines are trimmed a margin before the
// floor (state.Timeline.Trim), so that every period the floor's data can
// still change (a night shift over the floor, the idle-running look-back)
// is computed as from whole timelines.

// SetFloor raises the floor to floor (Unix nanoseconds); a lower floor is
// ignored.
func (e *Engine) SetFloor(floor int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.floor = max(e.floor, floor)
}

// Floor returns the floor (0: none).
func (e *Engine) Floor() int64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.floor
}

// Trim trims every timeline at before (state.Timeline.Trim); it returns how
// many timelines changed. Set the floor first. Equipment is never
// forgotten: a timeline keeps its state at the cut.
func (e *Engine) Trim(before int64) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, tl := range e.timelines {
		if _, changed := tl.Trim(before); changed {
			n++
		}
	}
	if n > 0 {
		clear(e.opMonths)
	}
	return n
}

// retained cuts the dirty ranges at the floor: a range ending before it
// is dropped. The caller holds e.mu.
func (e *Engine) retained(dirty Dirty) Dirty {
	if e.floor == 0 {
		return dirty
	}
	out := make(Dirty, len(dirty))
	for k, r := range dirty {
		if r.To >= e.floor {
			r.From = max(r.From, e.floor)
			out[k] = r
		}
	}
	return out
}

// belowFloor reports whether an observation at t is older than the floor.
// The caller holds e.mu.
func (e *Engine) belowFloor(t int64) bool { return e.floor != 0 && t < e.floor }

// floorTime is the floor as a time (zero time: none). The caller holds e.mu.
func (e *Engine) floorTime() time.Time {
	if e.floor == 0 {
		return time.Time{}
	}
	return time.Unix(0, e.floor)
}
