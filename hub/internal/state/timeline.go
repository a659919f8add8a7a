// Package state turns one equipment's observations into its state over time.
//
// A Timeline holds, in event time (source timestamps), every `run` observation
// of one equipment and the span its data covers: from its first observation of
// any signal to its horizon, the latest. Inside that span the equipment runs
// from a run=true observation until the next observation says otherwise;
// outside it the state is unknown and never counted as running. Observations
// may arrive late and out of order; applying the same observation twice
// changes nothing. Timeline does no I/O and reads no clock.
package state

import (
	"sort"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Point is one run observation: at T (Unix nanoseconds) the equipment started
// (Run) or stopped running.
type Point struct {
	T   int64
	Run bool
}

// Timeline is the run history of one equipment. The zero value is empty.
type Timeline struct {
	pts     []Point // sorted by T, at most one point per T
	first   int64   // earliest observation of any signal
	horizon int64   // latest observation of any signal
	seen    bool
}

// Observe records that the equipment reported something at t, extending the
// span its data covers. It reports whether the span changed.
func (tl *Timeline) Observe(t int64) bool {
	if !tl.seen {
		tl.first, tl.horizon, tl.seen = t, t, true
		return true
	}
	changed := false
	if t < tl.first {
		tl.first, changed = t, true
	}
	if t > tl.horizon {
		tl.horizon, changed = t, true
	}
	return changed
}

// SetRun records a run observation at t (and observes t). Two different values
// at the same instant resolve to running, whatever their order of arrival, so
// replays in any order give the same timeline. It reports whether anything changed.
func (tl *Timeline) SetRun(t int64, run bool) bool {
	changed := tl.Observe(t)
	i := sort.Search(len(tl.pts), func(i int) bool { return tl.pts[i].T >= t })
	if i < len(tl.pts) && tl.pts[i].T == t {
		if run && !tl.pts[i].Run {
			tl.pts[i].Run = true
			return true
		}
		return changed
	}
	tl.pts = append(tl.pts, Point{})
	copy(tl.pts[i+1:], tl.pts[i:])
	tl.pts[i] = Point{T: t, Run: run}
	return true
}

// Span returns the first and latest observation times; ok is false when the
// equipment never reported.
func (tl *Timeline) Span() (first, horizon int64, ok bool) {
	return tl.first, tl.horizon, tl.seen
}

// Points returns the run observations in time order. The slice must not be modified.
func (tl *Timeline) Points() []Point { return tl.pts }

// Within returns, for the half-open interval [a, b), how long the equipment
// ran and how long its state was known (covered by its data span), in
// nanoseconds.
func (tl *Timeline) Within(a, b int64) (run, known int64) {
	if !tl.seen || b <= a {
		return 0, 0
	}
	lo, hi := max(a, tl.first), min(b, tl.horizon)
	if hi <= lo {
		return 0, 0
	}
	known = hi - lo
	// The last point at or before lo decides the state at lo.
	i := sort.Search(len(tl.pts), func(i int) bool { return tl.pts[i].T > lo }) - 1
	if i < 0 {
		i = 0
	}
	for ; i < len(tl.pts); i++ {
		p := tl.pts[i]
		if p.T >= hi {
			break
		}
		end := hi
		if i+1 < len(tl.pts) && tl.pts[i+1].T < hi {
			end = tl.pts[i+1].T
		}
		if p.Run {
			start := max(p.T, lo)
			if end > start {
				run += end - start
			}
		}
	}
	return run, known
}

// Restore rebuilds a timeline from a saved span and points (sorted or not).
func Restore(first, horizon int64, pts []Point) *Timeline {
	tl := &Timeline{}
	for _, p := range pts {
		tl.SetRun(p.T, p.Run)
	}
	tl.Observe(first)
	tl.Observe(horizon)
	return tl
}

// Change is what a batch of observations changed for one equipment: its span
// after the batch and the run points it added or changed.
type Change struct {
	Key            signal.Key
	First, Horizon int64
	Points         []Point
}
