package state

import (
	"slices"
	"sort"
	"strings"

	"github.com/floorpulse/floorpulse/hub/internal/calendar"
)

// Seg is a stretch [Start, End) of one state.
type Seg struct {
	Start, End int64
	State      State
}

// unknownIn returns the merged ranges of [a, b) where the data says nothing:
// outside the data span, past the timeout inside a silence, and lost ranges.
func (tl *Timeline) unknownIn(a, b int64) []Interval {
	if !tl.seen {
		return []Interval{{a, b}}
	}
	var raw []Interval
	if tl.first > a {
		raw = append(raw, Interval{a, tl.first})
	}
	if tl.horizon < b {
		raw = append(raw, Interval{tl.horizon, b})
	}
	for _, s := range tl.silences {
		if s.Start+tl.Timeout < s.End {
			raw = append(raw, Interval{s.Start + tl.Timeout, s.End})
		}
	}
	raw = append(raw, tl.gaps...)
	var clipped []Interval
	for _, r := range raw {
		lo, hi := max(r.Start, a), min(r.End, b)
		if hi > lo {
			clipped = append(clipped, Interval{lo, hi})
		}
	}
	sort.Slice(clipped, func(i, j int) bool { return clipped[i].Start < clipped[j].Start })
	var out []Interval
	for _, r := range clipped {
		if n := len(out); n > 0 && r.Start <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, r.End)
			continue
		}
		out = append(out, r)
	}
	return out
}

// Segments cuts [a, b) into segments of one state each, in order and without
// gaps. cal holds the line's calendar spans covering [a, b); nil means the
// line is scheduled around the clock.
func (tl *Timeline) Segments(a, b int64, cal []calendar.Span) []Seg {
	var out []Seg
	for _, st := range tl.Steps(a, b, cal) {
		if n := len(out); n > 0 && out[n-1].State == st.State {
			out[n-1].End = st.End
			continue
		}
		out = append(out, st)
	}
	return out
}

// Steps is Segments without merging: one piece for every instant where the
// state could change (an observation, a calendar boundary, the edge of an
// unknown range), so a piece's start stays a piece start whatever data
// arrives later (later data only adds instants).
func (tl *Timeline) Steps(a, b int64, cal []calendar.Span) []Seg {
	if b <= a {
		return nil
	}
	unknown := tl.unknownIn(a, b)
	cuts := make([]int64, 1, 32)
	cuts[0] = a
	addPts := func(n int, at func(int) int64) {
		i := sort.Search(n, func(i int) bool { return at(i) > a })
		for ; i < n && at(i) < b; i++ {
			cuts = append(cuts, at(i))
		}
	}
	addPts(len(tl.run), func(i int) int64 { return tl.run[i].T })
	addPts(len(tl.state), func(i int) int64 { return tl.state[i].T })
	addPts(len(tl.alarm), func(i int) int64 { return tl.alarm[i].T })
	for _, u := range unknown {
		cuts = append(cuts, u.Start, u.End)
	}
	for _, c := range cal {
		cuts = append(cuts, c.Start, c.End)
	}
	slices.Sort(cuts)

	// Cursors: the index of the last observation at or before t.
	ri := sort.Search(len(tl.run), func(i int) bool { return tl.run[i].T > a }) - 1
	si := sort.Search(len(tl.state), func(i int) bool { return tl.state[i].T > a }) - 1
	ai := sort.Search(len(tl.alarm), func(i int) bool { return tl.alarm[i].T > a }) - 1
	ui, ci := 0, 0
	out := make([]Seg, 0, len(cuts))
	for k := 0; k < len(cuts); k++ {
		lo := cuts[k]
		if lo >= b || (k > 0 && lo == cuts[k-1]) {
			continue
		}
		hi := b
		for j := k + 1; j < len(cuts); j++ {
			if cuts[j] > lo {
				hi = min(cuts[j], b)
				break
			}
		}
		for ri+1 < len(tl.run) && tl.run[ri+1].T <= lo {
			ri++
		}
		for si+1 < len(tl.state) && tl.state[si+1].T <= lo {
			si++
		}
		for ai+1 < len(tl.alarm) && tl.alarm[ai+1].T <= lo {
			ai++
		}
		for ui < len(unknown) && unknown[ui].End <= lo {
			ui++
		}
		for ci < len(cal) && cal[ci].End <= lo {
			ci++
		}
		st := Unknown
		if !(ui < len(unknown) && unknown[ui].Start <= lo) {
			run, sv, alarm := int8(-2), Unknown, int8(-2) // -2: never observed
			hasState := false
			if ri >= 0 {
				run = tl.run[ri].V
			}
			if si >= 0 {
				sv, hasState = tl.state[si].S, true
			}
			if ai >= 0 {
				alarm = tl.alarm[ai].V
			}
			kind := calendar.Shift
			if ci < len(cal) && cal[ci].Start <= lo {
				kind = cal[ci].Kind
			}
			st = resolve(run, sv, hasState, alarm, kind)
		}
		out = append(out, Seg{Start: lo, End: hi, State: st})
	}
	return out
}

// Changes returns the pieces of Steps over [a, b) that start a new state:
// those whose state differs from the state just before their start, and the
// piece at the timeline's first observation whatever its state. The state
// just before a is looked at, so a piece at a is a change only if the state
// changes there: the change instants of [a, b) do not depend on how a wider
// range is cut into pieces. Before the first observation nothing is said (no
// change). A piece ends where the next change starts (or at b). cal holds
// the line's calendar spans covering [a-1, b).
func (tl *Timeline) Changes(a, b int64, cal []calendar.Span) []Seg {
	if b <= a || !tl.seen {
		return nil
	}
	var out []Seg
	prev, hasPrev := Unknown, false
	for _, st := range tl.Steps(a-1, b, cal) {
		change := st.Start == tl.first || (st.Start > tl.first && hasPrev && st.State != prev)
		prev, hasPrev = st.State, true
		if st.Start < a {
			continue
		}
		if change {
			out = append(out, st)
			continue
		}
		if n := len(out); n > 0 {
			out[n-1].End = st.End
		}
	}
	return out
}

// resolve decides the state at an instant from the latest run, state and
// alarm observations and the calendar (see the package comment).
func resolve(run int8, sv State, hasState bool, alarm int8, kind calendar.Kind) State {
	if run == True || (run != False && hasState && sv == Running) {
		return Running
	}
	base := Unknown
	switch {
	case hasState && sv != Unknown && sv != Running && sv != NoShift:
		base = sv
	case run == False:
		base = Idle
	}
	if base == Unknown {
		return Unknown
	}
	if base == Idle && alarm == True {
		base = Down
	}
	switch kind {
	case calendar.NoShift:
		return NoShift
	case calendar.PlannedStop:
		return PlannedStop
	}
	return base
}

// OpSeg is a stretch [Start, End) with one set of operators logged in (sorted).
type OpSeg struct {
	Start, End int64
	Ops        []string
}

// OpSegments cuts [a, b) into stretches of one operator set, leaving out
// stretches with nobody logged in.
func (tl *Timeline) OpSegments(a, b int64) []OpSeg {
	var out []OpSeg
	var cur []string
	from := a
	flush := func(to int64) {
		lo, hi := max(from, a), min(to, b)
		if hi > lo && len(cur) > 0 {
			if n := len(out); n > 0 && out[n-1].End == lo && equalStrings(out[n-1].Ops, cur) {
				out[n-1].End = hi
			} else {
				out = append(out, OpSeg{Start: lo, End: hi, Ops: append([]string(nil), cur...)})
			}
		}
	}
	for _, e := range tl.ops {
		if e.T >= b {
			break
		}
		flush(e.T)
		from = e.T
		switch e.Kind {
		case OpSet:
			cur = cur[:0]
			if e.Op != "" {
				cur = append(cur, strings.Split(e.Op, ",")...)
			}
		case OpLogin:
			i := sort.SearchStrings(cur, e.Op)
			if i == len(cur) || cur[i] != e.Op {
				cur = append(cur, "")
				copy(cur[i+1:], cur[i:])
				cur[i] = e.Op
			}
		case OpLogout:
			i := sort.SearchStrings(cur, e.Op)
			if i < len(cur) && cur[i] == e.Op {
				cur = append(cur[:i], cur[i+1:]...)
			}
		}
	}
	flush(b)
	return out
}

func equalStrings(a, b []string) bool {
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

// Unknown returns the merged ranges of [a, b) where the data says nothing.
func (tl *Timeline) Unknown(a, b int64) []Interval { return tl.unknownIn(a, b) }

// StateAt resolves the state from the latest observations at or before t
// and the calendar kind at t, ignoring whether t is covered by data (the
// caller decides that, e.g. to extend the state at the horizon to now).
func (tl *Timeline) StateAt(t int64, kind calendar.Kind) State {
	run, sv, alarm := int8(-2), Unknown, int8(-2)
	hasState := false
	if i := sort.Search(len(tl.run), func(i int) bool { return tl.run[i].T > t }) - 1; i >= 0 {
		run = tl.run[i].V
	}
	if i := sort.Search(len(tl.state), func(i int) bool { return tl.state[i].T > t }) - 1; i >= 0 {
		sv, hasState = tl.state[i].S, true
	}
	if i := sort.Search(len(tl.alarm), func(i int) bool { return tl.alarm[i].T > t }) - 1; i >= 0 {
		alarm = tl.alarm[i].V
	}
	return resolve(run, sv, hasState, alarm, kind)
}

// IdleRunning returns how long, within [a, b), the equipment ran without
// its counter going up for at least least: running stretches are cut at
// each counter increase, and each piece at least least long counts whole.
// ok is false when the equipment reports no counter.
func (tl *Timeline) IdleRunning(a, b, least int64) (ns int64, ok bool) {
	if len(tl.count) == 0 || least <= 0 {
		return 0, false
	}
	// Pieces are cut from [a-least, b+least): a piece clipped there that
	// overlaps [a, b) is at least least long anyway.
	for _, s := range tl.Segments(a-least, b+least, nil) {
		if s.State != Running {
			continue
		}
		cuts := append([]int64{s.Start}, tl.Increases(s.Start, s.End)...)
		cuts = append(cuts, s.End)
		for i := 0; i+1 < len(cuts); i++ {
			p0, p1 := cuts[i], cuts[i+1]
			if p1-p0 < least {
				continue
			}
			if x0, x1 := max(p0, a), min(p1, b); x1 > x0 {
				ns += x1 - x0
			}
		}
	}
	return ns, true
}

// Open is the timeline as it stands now, for the state that holds after
// the latest observation (the open interval): the state at the horizon
// holds until the signal timeout has passed, and is unknown from then on,
// which is what the timeline will say of that stretch if its next
// observation comes at or after that instant (a later observation within
// the timeout extends it; one after it leaves a silence, unknown from the
// horizon plus the timeout). With no timeout the state at the horizon holds
// on. Open returns the timeline to take changes from, and End, the last
// instant at which it can have a change: the horizon plus the timeout (the
// change to unknown there), or the horizon itself without a timeout. Before
// the horizon it says what tl says. The returned timeline shares tl's
// observations: it is for reading only, while tl is not changed.
func (tl *Timeline) Open() (open *Timeline, end int64) {
	o := *tl
	if !tl.seen {
		return &o, tl.horizon
	}
	if tl.Timeout > 0 {
		o.horizon = tl.horizon + tl.Timeout
		return &o, o.horizon
	}
	o.horizon = tl.horizon + 1 // the state at the horizon; nothing said after it
	return &o, tl.horizon
}
