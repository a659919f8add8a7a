package engine

import (
	"sort"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// OperatorRun returns each operator's run seconds over a site's lines in
// period p (any kind; not cached), as the operator figures count them.
func (e *Engine) OperatorRun(site string, p activity.Period) map[string]float64 {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := map[string]float64{}
	for _, lk := range e.sortedLines() {
		if lk.site != site {
			continue
		}
		cal := e.opts.Calendar(lk.site, lk.line)
		for _, k := range e.lines[lk] {
			for op, s := range activity.OperatorRun(e.timelines[k], cal, p) {
				out[op] += s
			}
		}
	}
	return out
}

// LineHistory is an equipment's History and its good-part counter
// observations over a range (with the last one before it, to count the
// first increase from).
type LineHistory struct {
	History
	Counts []state.Count
}

// LineHistories returns the history over [from, to) of every registered
// equipment of a line, as History gives each, with the line's calendar cut
// once for all of them, and its counter observations. The engine is
// read-locked for the one line only.
func (e *Engine) LineHistories(site, line string, from, to time.Time) map[signal.Key]LineHistory {
	e.mu.RLock()
	defer e.mu.RUnlock()
	a, b := from.UnixNano(), to.UnixNano()
	out := map[signal.Key]LineHistory{}
	if b <= a {
		return out
	}
	var spans []calendar.Span
	if cal := e.opts.Calendar(site, line); cal != nil {
		spans = cal.Spans(a, b)
	}
	for _, k := range e.lines[lineKey{site, line}] {
		if !e.equipment[k].Registered {
			continue
		}
		tl := e.timelines[k]
		if tl == nil {
			out[k] = LineHistory{History: History{States: []state.Seg{{Start: a, End: b, State: state.Unknown}}}}
			continue
		}
		h := LineHistory{History: History{States: tl.Segments(a, b, spans), Operators: tl.OpSegments(a, b)}}
		counts := tl.Counts()
		i := max(sort.Search(len(counts), func(i int) bool { return counts[i].T >= a })-1, 0)
		for ; i < len(counts) && counts[i].T < b; i++ {
			h.Counts = append(h.Counts, counts[i])
		}
		out[k] = h
	}
	return out
}
