package engine

import (
	"sort"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Now is an equipment's state as last observed, for a live board.
type Now struct {
	Equipment activity.Equipment
	// State is the state its latest observation says (Unknown when it never
	// reported, or when its latest word is older than the signal timeout).
	State state.State
	// Since is when that state began (zero when unknown); LastSeen its latest observation.
	Since, LastSeen time.Time
	// Shift is the shift on duty at now ("" outside shifts or around the clock).
	Shift string
	// Today holds today's figures so far (the local day holding now).
	Today activity.Figures
}

// Line returns the live state of every equipment of a line at now.
func (e *Engine) Line(site, line string, now time.Time) []Now {
	e.mu.RLock()
	defer e.mu.RUnlock()
	keys := append([]signal.Key(nil), e.lines[lineKey{site, line}]...)
	sort.Slice(keys, func(i, j int) bool { return keys[i].Equipment < keys[j].Equipment })
	cal := e.opts.Calendar(site, line)
	shift := ""
	if cal != nil {
		for _, sp := range cal.Spans(now.UnixNano(), now.UnixNano()+1) {
			if sp.Kind != calendar.NoShift {
				shift = sp.Shift
			}
		}
	}
	day := activity.DayOf(now, e.opts.Location)
	var out []Now
	for _, k := range keys {
		if eq := e.equipment[k]; eq.Registered && !eq.InPeriod(day).Registered {
			continue // not in service today (retired, or not yet in service)
		}
		n := Now{Equipment: e.equipment[k], Shift: shift, Today: e.compute(k, cal, day)}
		tl := e.timelines[k]
		if tl != nil {
			if _, h, ok := tl.Span(); ok {
				n.LastSeen = time.Unix(0, h).In(e.opts.Location)
				if to := e.opts.Timeout; to == 0 || now.UnixNano()-h <= int64(to) {
					kind := calendar.Shift
					var spans []calendar.Span
					if cal != nil {
						spans = cal.Spans(h-int64(24*time.Hour), h+1)
						if len(spans) > 0 {
							kind = spans[len(spans)-1].Kind
						}
					}
					n.State = tl.StateAt(h, kind)
					since := h
					segs := tl.Segments(h-int64(24*time.Hour), h, spans)
					for i := len(segs) - 1; i >= 0 && segs[i].State == n.State; i-- {
						since = segs[i].Start
					}
					n.Since = time.Unix(0, since).In(e.opts.Location)
				}
			}
		}
		out = append(out, n)
	}
	return out
}

// Lines lists the lines of a site, sorted.
func (e *Engine) Lines(site string) []string {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []string
	for lk := range e.lines {
		if lk.site == site {
			out = append(out, lk.line)
		}
	}
	sort.Strings(out)
	return out
}
