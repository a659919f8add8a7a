package state

import (
	"sort"
	"strings"
)

// Trim drops what only instants before before need, so that a timeline
// kept for a bounded time stays bounded. Everything the timeline says about
// any instant from before on is unchanged: the states, the unknown ranges,
// the operators logged in, the counter increases. It returns the instant
// the timeline now starts at (cut: before, or the horizon when the data
// ends earlier) and whether anything changed.
//
// Of the run, state, alarm, counter, scrap, power and energy observations
// before cut, the last
// is kept, moved to cut (unless there is one at cut already); the operator
// events before cut become one OpSet at cut with the operators logged in
// then (unless an OpSet at cut replaces them anyway, or nobody was);
// silences that end by cut are dropped and the others kept whole (where
// the unknown part of a silence starts depends on its start); lost ranges
// that end by cut are dropped and the others start at cut at the earliest;
// the data span starts at cut at the earliest; energy pieces that end by
// cut are dropped and the one cut falls in starts at cut with its share of
// energy in proportion to time (cut is a day before anything restated).
//
// An observation before cut applied afterwards is not placed as it would
// have been in the whole timeline: the caller sets such late data aside.
func (tl *Timeline) Trim(before int64) (cut int64, changed bool) {
	cut = before
	if tl.seen && tl.horizon < cut {
		cut = tl.horizon
	}
	var gaps []Interval
	for _, g := range tl.gaps {
		if g.End <= cut {
			continue
		}
		g.Start = max(g.Start, cut)
		gaps = append(gaps, g)
	}
	sort.Slice(gaps, func(i, j int) bool {
		return gaps[i].Start < gaps[j].Start || (gaps[i].Start == gaps[j].Start && gaps[i].End < gaps[j].End)
	})
	gaps = dedupe(gaps)
	if !equalIntervals(gaps, tl.gaps) {
		tl.gaps, changed = gaps, true
	}
	if !tl.seen {
		return cut, changed
	}
	ops, opsChanged := tl.trimOps(cut)
	tl.ops = ops
	changed = changed || opsChanged
	for _, ch := range []bool{
		trimPoints(&tl.run, cut, func(p Point) int64 { return p.T }, func(p Point) Point { p.T = cut; return p }),
		trimPoints(&tl.state, cut, func(p StatePoint) int64 { return p.T }, func(p StatePoint) StatePoint { p.T = cut; return p }),
		trimPoints(&tl.alarm, cut, func(p AlarmPoint) int64 { return p.T }, func(p AlarmPoint) AlarmPoint { p.T = cut; return p }),
		trimPoints(&tl.count, cut, func(c Count) int64 { return c.T }, func(c Count) Count { c.T = cut; return c }),
	} {
		changed = changed || ch
	}
	for k := range tl.series {
		if trimPoints(&tl.series[k], cut, func(c Count) int64 { return c.T }, func(c Count) Count { c.T = cut; return c }) {
			changed = true
		}
	}
	if tl.trimPieces(cut) {
		changed = true
	}
	i := sort.Search(len(tl.silences), func(i int) bool { return tl.silences[i].End > cut })
	if i > 0 {
		tl.silences = append([]Interval(nil), tl.silences[i:]...)
		changed = true
	}
	if tl.first < cut {
		tl.first, changed = cut, true
	}
	return cut, changed
}

// trimPoints drops the points of pts before cut but the last, which it
// moves to cut unless a point is at cut already. It reports whether pts
// changed.
func trimPoints[P any](pts *[]P, cut int64, at func(P) int64, moved func(P) P) bool {
	s := *pts
	i := sort.Search(len(s), func(i int) bool { return at(s[i]) >= cut })
	if i == 0 {
		return false
	}
	out := make([]P, 0, len(s)-i+1)
	if i == len(s) || at(s[i]) != cut {
		out = append(out, moved(s[i-1]))
	}
	*pts = append(out, s[i:]...)
	return true
}

// trimOps returns the operator events with those before cut replaced by
// the set logged in just before cut.
func (tl *Timeline) trimOps(cut int64) ([]OpEvent, bool) {
	i := sort.Search(len(tl.ops), func(i int) bool { return tl.ops[i].T >= cut })
	if i == 0 {
		return tl.ops, false
	}
	var set []string
	if segs := tl.OpSegments(cut-1, cut); len(segs) > 0 {
		set = segs[0].Ops
	}
	resetAtCut := false
	for _, e := range tl.ops[i:] {
		if e.T != cut {
			break
		}
		resetAtCut = resetAtCut || e.Kind == OpSet
	}
	out := make([]OpEvent, 0, len(tl.ops)-i+1)
	if len(set) > 0 && !resetAtCut {
		out = append(out, OpEvent{T: cut, Kind: OpSet, Op: strings.Join(set, ",")})
	}
	return append(out, tl.ops[i:]...), true
}

func dedupe(s []Interval) []Interval {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func equalIntervals(a, b []Interval) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Save returns the timeline's stored form (Restore's input); the slices are
// copies.
func (tl *Timeline) Save() Saved {
	return Saved{
		First: tl.first, Horizon: tl.horizon,
		Run:      append([]Point(nil), tl.run...),
		State:    append([]StatePoint(nil), tl.state...),
		Alarm:    append([]AlarmPoint(nil), tl.alarm...),
		Count:    append([]Count(nil), tl.count...),
		Scrap:    append([]Count(nil), tl.series[SeriesScrap]...),
		Power:    append([]Count(nil), tl.series[SeriesPower]...),
		Energy:   append([]Count(nil), tl.series[SeriesEnergy]...),
		Ops:      append([]OpEvent(nil), tl.ops...),
		Silences: append([]Interval(nil), tl.silences...),
		Gaps:     append([]Interval(nil), tl.gaps...),
		Pieces:   append([]Piece(nil), tl.pieces...),
		Fold:     tl.fold,
	}
}
