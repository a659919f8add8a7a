package engine

import (
	"cmp"
	"slices"
	"sort"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// MinPowerWindow is how long behind an equipment's latest power
// observation the observations are kept at least before they are folded
// into energy pieces (state/energy.go); with a longer max_lateness that is
// the window. A power observation older than what is kept is set aside
// and counted as too late.
const MinPowerWindow = time.Hour

// powerWindow is the engine's power window.
func (e *Engine) powerWindow() int64 {
	return int64(max(MinPowerWindow, e.opts.MaxLateness))
}

// equip sets a timeline's power window and piece cuts.
func (e *Engine) equip(k signal.Key, tl *state.Timeline) *state.Timeline {
	tl.PowerWindow = e.powerWindow()
	tl.Cuts = e.cutsFor(k)
	return tl
}

// cutsFor returns the instants where energy pieces of k start besides the
// timeline's own: the plant's hours (so also its days and months) and the
// edges of the line's calendar (shifts, planned stops, closures), as
// configured when the power is folded. They are worked out a plant day at
// a time and kept for the timeline's next folds.
func (e *Engine) cutsFor(k signal.Key) func(a, b int64) []int64 {
	var cache []int64
	var from, to int64
	return func(a, b int64) []int64 {
		if cache == nil || a < from || b > to {
			loc := e.location()
			from = activity.DayOf(time.Unix(0, a), loc).Start.UnixNano()
			to = activity.DayOf(time.Unix(0, b-1), loc).End.UnixNano()
			cache = cache[:0]
			for h := activity.HourOf(time.Unix(0, from), loc); h.Start.UnixNano() < to; h = activity.HourOf(h.End, loc) {
				cache = append(cache, h.Start.UnixNano())
			}
			if cal := e.opts.Calendar(k.Site, k.Line); cal != nil {
				for _, s := range cal.Spans(from, to) {
					cache = append(cache, s.Start, s.End)
				}
			}
			sort.Slice(cache, func(i, j int) bool { return cache[i] < cache[j] })
		}
		i := sort.Search(len(cache), func(i int) bool { return cache[i] > a })
		j := sort.Search(len(cache), func(i int) bool { return cache[i] >= b })
		if i >= j {
			return nil
		}
		return cache[i:j:j]
	}
}

// fold folds tl's old power into pieces and notes it in c.
func (e *Engine) fold(tl *state.Timeline, c *state.Change) {
	f := &e.folded
	f.Removed, f.Pieces = f.Removed[:0], f.Pieces[:0]
	tl.Fold(f)
	c.PowerFolded = append(c.PowerFolded, f.Removed...)
	for _, t := range f.Pieces {
		if n := len(c.Pieces); n == 0 || c.Pieces[n-1].T != t {
			c.Pieces = append(c.Pieces, state.Piece{T: t})
		}
	}
}

// resolveEnergy completes c's power observations and pieces with their
// values in tl: an observation folded in the same batch is left out (it
// is removed), a piece changed several times is given once.
func resolveEnergy(tl *state.Timeline, c *state.Change) {
	pw := tl.SeriesOf(state.SeriesPower)
	kept := c.Power[:0]
	for _, p := range c.Power {
		if i := sort.Search(len(pw), func(i int) bool { return pw[i].T >= p.T }); i < len(pw) && pw[i].T == p.T {
			kept = append(kept, pw[i])
		}
	}
	c.Power = kept
	if len(c.Pieces) == 0 {
		return
	}
	pieces, _ := tl.Pieces()
	slices.SortFunc(c.Pieces, func(a, b state.Piece) int { return cmp.Compare(a.T, b.T) })
	out := c.Pieces[:0]
	for _, p := range c.Pieces {
		if n := len(out); n > 0 && out[n-1].T == p.T {
			continue
		}
		if i := sort.Search(len(pieces), func(i int) bool { return pieces[i].T >= p.T }); i < len(pieces) && pieces[i].T == p.T {
			out = append(out, pieces[i])
		}
	}
	c.Pieces = out
}

// Compacted returns, once, the changes that folding the power of the
// timelines New restored made: a store written before power was folded
// (every observation kept) is brought to the folded form by saving them.
func (e *Engine) Compacted() []state.Change {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.compacted
	e.compacted = nil
	return out
}
