package engine

import (
	"github.com/floorpulse/floorpulse/hub/internal/activity"
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
