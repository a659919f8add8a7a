package state

import (
	"slices"
	"sort"
)

// Energy from power. A `power` observation (kW) is held until the next one;
// the figures need its integral over stretches of one state. Keeping every
// observation would make a timeline grow with how often power is sampled,
// so a timeline with a PowerWindow folds the observations older than that
// window behind its latest power observation into pieces: a piece is the
// energy (kWh) drawn over [its start, the next piece's start), the last
// piece ending where the observations still kept (the window) begin. A
// piece starts at every instant where a period or the state can change as
// far as is known when it is folded: a run, state or alarm observation, the
// edge of an unknown stretch (a silence past the timeout, a lost range),
// and the instants Cuts gives (the engine's: the plant's hours and the
// line's calendar). So a figure's stretch of one state holds whole pieces
// and its energy is their sum, the same as from the observations. A
// stretch edge that falls inside a piece (a state observation that arrives
// after the power around it was folded, a calendar changed since) takes
// the piece's energy in proportion to time, which is exact where the power
// was constant in the piece and an estimate otherwise.
//
// Power observations older than the window's start cannot be placed once
// folded: PowerTooLate says so, and the engine sets them aside.

// Piece is the energy in kWh drawn from T to the next piece (or the
// timeline's fold point).
type Piece struct {
	T   int64
	KWh float64
}

// hourNs is the default cut: every hour of Unix time.
const hourNs = int64(3600e9)

// Pieces returns the folded energy pieces in time order and the instant
// the last one ends (where the power observations kept begin); not to be
// modified.
func (tl *Timeline) Pieces() ([]Piece, int64) { return tl.pieces, tl.fold }

// PowerTooLate reports whether a power observation at t falls before what
// the timeline keeps as observations (it was folded into pieces).
func (tl *Timeline) PowerTooLate(t int64) bool {
	return len(tl.pieces) > 0 && t < tl.fold
}

// Folded is what a fold changed: the power observations removed (their
// times) and the pieces added or changed (their starts).
type Folded struct {
	Removed []int64
	Pieces  []int64
}

// Fold folds the power observations older than PowerWindow behind the
// latest one into pieces (nothing without a window), and appends to f what
// it changed. An observation is folded once the next one is at least
// PowerWindow before the latest.
func (tl *Timeline) Fold(f *Folded) {
	pw := tl.series[SeriesPower]
	if tl.PowerWindow <= 0 || len(pw) < 2 {
		return
	}
	latest := pw[len(pw)-1].T
	n := 0
	for n+1 < len(pw) && pw[n+1].T <= latest-tl.PowerWindow {
		tl.foldOne(pw[n], pw[n+1].T, f)
		f.Removed = append(f.Removed, pw[n].T)
		n++
	}
	if n > 0 {
		tl.series[SeriesPower] = pw[n:] // appends reallocate it, without the folded ones
		tl.fold = pw[n].T
	}
}

// foldOne adds the energy of observation p held until end to the pieces,
// starting a piece at every cut in [p.T, end).
func (tl *Timeline) foldOne(p Count, end int64, out *Folded) {
	cuts := tl.cutsIn(p.T-1, end)
	// A new piece at the first observation folded or at an observation
	// that is a cut itself; otherwise its energy goes to the last piece,
	// which ends at p.T (pieces are contiguous from the first power
	// observation on).
	newPiece := len(tl.pieces) == 0
	if len(cuts) > 0 && cuts[0] == p.T {
		cuts, newPiece = cuts[1:], true
	}
	from := p.T
	for i := 0; i <= len(cuts); i++ {
		to := end
		if i < len(cuts) {
			to = cuts[i]
		}
		if i > 0 || newPiece {
			tl.pieces = append(tl.pieces, Piece{T: from})
		}
		last := &tl.pieces[len(tl.pieces)-1]
		if to > from {
			last.KWh += p.V * float64(to-from) / 3600e9
		}
		if n := len(out.Pieces); n == 0 || out.Pieces[n-1] != last.T {
			out.Pieces = append(out.Pieces, last.T)
		}
		from = to
	}
}

// cutsIn returns the instants in (a, b) where a piece starts, sorted and
// distinct: run, state and alarm observations, the edges of unknown
// stretches (the data span, silences past the timeout, lost ranges) and
// Cuts. The slice is valid until the next call.
func (tl *Timeline) cutsIn(a, b int64) []int64 {
	cuts := tl.cutBuf[:0]
	in := func(t int64) {
		if t > a && t < b {
			cuts = append(cuts, t)
		}
	}
	add := func(n int, at func(int) int64) {
		for i := sort.Search(n, func(i int) bool { return at(i) > a }); i < n && at(i) < b; i++ {
			cuts = append(cuts, at(i))
		}
	}
	add(len(tl.run), func(i int) int64 { return tl.run[i].T })
	add(len(tl.state), func(i int) int64 { return tl.state[i].T })
	add(len(tl.alarm), func(i int) int64 { return tl.alarm[i].T })
	if tl.seen {
		in(tl.first)
		in(tl.horizon)
	}
	for i := sort.Search(len(tl.silences), func(i int) bool { return tl.silences[i].End > a }); i < len(tl.silences) && tl.silences[i].Start < b; i++ {
		if s := tl.silences[i]; s.Start+tl.Timeout < s.End {
			in(s.Start + tl.Timeout)
			in(s.End)
		}
	}
	for _, g := range tl.gaps {
		if g.Start >= b {
			break
		}
		in(g.Start)
		in(g.End)
	}
	if tl.Cuts != nil {
		cuts = append(cuts, tl.Cuts(a, b)...)
	} else {
		for t := (a/hourNs + 1) * hourNs; t < b; t += hourNs {
			in(t)
		}
	}
	tl.cutBuf = cuts
	if len(cuts) < 2 {
		return cuts
	}
	slices.Sort(cuts)
	return slices.Compact(cuts)
}

// PieceEnergy is the energy of the pieces over [a, b): whole pieces, and a
// share in proportion to time of a piece [a, b) cuts.
func (tl *Timeline) PieceEnergy(a, b int64) float64 {
	b = min(b, tl.fold)
	if b <= a || len(tl.pieces) == 0 {
		return 0
	}
	var sum float64
	i := max(sort.Search(len(tl.pieces), func(i int) bool { return tl.pieces[i].T > a })-1, 0)
	for ; i < len(tl.pieces) && tl.pieces[i].T < b; i++ {
		p := tl.pieces[i]
		end := tl.fold
		if i+1 < len(tl.pieces) {
			end = tl.pieces[i+1].T
		}
		lo, hi := max(p.T, a), min(end, b)
		switch {
		case hi <= lo:
		case lo == p.T && hi == end:
			sum += p.KWh
		default:
			sum += p.KWh * float64(hi-lo) / float64(end-p.T)
		}
	}
	return sum
}

// HasPower reports whether the timeline holds any power: observations or
// pieces.
func (tl *Timeline) HasPower() bool {
	return len(tl.pieces) > 0 || len(tl.series[SeriesPower]) > 0
}

// trimPieces drops the pieces that end by cut and moves the one cut falls
// in to cut, with its share of energy. It reports whether they changed.
func (tl *Timeline) trimPieces(cut int64) bool {
	if len(tl.pieces) == 0 || tl.pieces[0].T >= cut {
		return false
	}
	if tl.fold <= cut {
		tl.pieces, tl.fold = nil, 0
		return true
	}
	i := sort.Search(len(tl.pieces), func(i int) bool { return tl.pieces[i].T > cut }) - 1
	p := tl.pieces[i]
	end := tl.fold
	if i+1 < len(tl.pieces) {
		end = tl.pieces[i+1].T
	}
	out := make([]Piece, 0, len(tl.pieces)-i)
	out = append(out, Piece{T: cut, KWh: p.KWh * float64(end-cut) / float64(end-p.T)})
	if p.T == cut {
		out[0] = p
	}
	tl.pieces = append(out, tl.pieces[i+1:]...)
	return true
}
