// Package state turns one equipment's observations into its state over time.
//
// A Timeline holds, in event time (source timestamps), the observations of one
// equipment that decide its state: run, state (already mapped from PLC codes),
// alarm (with the active alarm's code), counter (good parts, scrap), power,
// energy meter and operator changes, the span its data covers (first to latest
// observation of any signal), the silences in between (consecutive
// observations further apart than the signal timeout) and the ranges its agent
// reported as lost (gap markers). From these and a line's calendar, States
// gives the equipment exactly one state at every instant:
//
//	unknown       outside the data span, in a lost range, or more than the
//	              timeout after the last observation before a silence, or no
//	              run/state information (or only bad-quality values)
//	running       run is true (or, without a run signal, state is running)
//	no_shift      not running, outside every shift
//	planned_stop  not running, in a planned stop (calendar or PLC state)
//	down          not running, state down, or an alarm is active while idle
//	setup, idle   from the state signal; run false alone means idle
//
// Observations may arrive late and out of order; applying the same
// observation twice changes nothing, and two different values at one instant
// resolve the same way whatever their order (the greater wins). A Timeline
// does no I/O and reads no clock.
package state

import (
	"fmt"
	"sort"
	"strings"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// State is what an equipment is doing (ISO 22400-2 names).
type State uint8

const (
	Unknown State = iota
	Running
	Idle
	Setup
	Down
	PlannedStop
	NoShift
	// NumStates is the number of states.
	NumStates
)

var stateNames = [NumStates]string{"unknown", "running", "idle", "setup", "down", "planned_stop", "no_shift"}

func (s State) String() string {
	if s < NumStates {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// ParseState parses a state name (as String gives it).
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return Unknown, false
}

// Tri-valued observations of run and alarm.
const (
	Bad   int8 = -1 // bad or uncertain quality: the value is not known
	False int8 = 0
	True  int8 = 1
)

// Point is one run observation at T (Unix nanoseconds).
type Point struct {
	T int64
	V int8
}

// AlarmPoint is one alarm observation: V is True when an alarm is active,
// False when none is, Bad when the value is not known; Code is the active
// alarm's code (the signal's text, numbers formatted canonically), empty
// unless V is True. An alarm stored before codes were kept is True with an
// empty code.
type AlarmPoint struct {
	T    int64
	V    int8
	Code string
}

// alarmGreater orders two alarm observations at one instant: the greater
// value wins, then the greater code, so the result does not depend on the
// order of arrival.
func alarmGreater(a, b AlarmPoint) bool {
	if a.V != b.V {
		return a.V > b.V
	}
	return a.Code > b.Code
}

// StatePoint is one state observation (a mapped PLC state). Unknown stands
// for a bad-quality or unmapped value.
type StatePoint struct {
	T int64
	S State
}

// Count is one good-part counter observation.
type Count struct {
	T int64
	V float64
}

// SetCount records a counter observation at t; two values at one instant
// resolve to the greater. It reports whether the stored value changed.
func (tl *Timeline) SetCount(t int64, v float64) bool {
	return upsert(&tl.count, Count{T: t, V: v}, func(c Count) int64 { return c.T }, func(a, b Count) bool { return a.V > b.V })
}

// Counts returns the counter observations in time order (not to be modified).
func (tl *Timeline) Counts() []Count { return tl.count }

// Increases returns the instants in (a, b) at which the counter went up.
func (tl *Timeline) Increases(a, b int64) []int64 {
	var out []int64
	i := sort.Search(len(tl.count), func(i int) bool { return tl.count[i].T > a })
	for ; i < len(tl.count) && tl.count[i].T < b; i++ {
		if i > 0 && tl.count[i].V > tl.count[i-1].V {
			out = append(out, tl.count[i].T)
		}
	}
	return out
}

// Series names a numeric series kept beside the good-part counter.
type Series uint8

const (
	// SeriesScrap is the scrap (reject) counter, monotonic with resets.
	SeriesScrap Series = iota
	// SeriesPower is the power drawn, kW, held until the next observation.
	SeriesPower
	// SeriesEnergy is the energy meter, kWh, monotonic with resets.
	SeriesEnergy
	// NumSeries is the number of series.
	NumSeries
)

// SetSeries records an observation of series s at t; two values at one
// instant resolve to the greater. It reports whether the stored value changed.
func (tl *Timeline) SetSeries(s Series, t int64, v float64) bool {
	return upsert(&tl.series[s], Count{T: t, V: v}, func(c Count) int64 { return c.T }, func(a, b Count) bool { return a.V > b.V })
}

// SeriesOf returns the observations of series s in time order (not to be
// modified).
func (tl *Timeline) SeriesOf(s Series) []Count { return tl.series[s] }

// CounterIncreases returns the increases of a counter (monotonic, restarting
// from 0) shown by its observations in [a, b): each observation's value less
// the one before it, or, when the value dropped, its value (the counter
// restarted from 0 and counted that much since). An increase belongs to the
// instant of the observation that shows it; the first observation shows
// none, and observations that show no increase are left out.
func CounterIncreases(cs []Count, a, b int64) []Count {
	var out []Count
	i := sort.Search(len(cs), func(i int) bool { return cs[i].T >= a })
	for ; i < len(cs) && cs[i].T < b; i++ {
		if i == 0 {
			continue
		}
		d := cs[i].V - cs[i-1].V
		if d < 0 {
			d = cs[i].V
		}
		if d > 0 {
			out = append(out, Count{T: cs[i].T, V: d})
		}
	}
	return out
}

// HeldIn returns the values of a held series (power) in force over [a, b):
// the observation in force at a (moved to a), then those in (a, b). Empty
// when nothing was observed before b.
func HeldIn(cs []Count, a, b int64) []Count {
	i := sort.Search(len(cs), func(i int) bool { return cs[i].T > a })
	var out []Count
	if i > 0 {
		out = append(out, Count{T: a, V: cs[i-1].V})
	}
	for ; i < len(cs) && cs[i].T < b; i++ {
		out = append(out, cs[i])
	}
	return out
}

// Operator event kinds.
const (
	OpSet    uint8 = iota // the operator signal: the whole set of operators logged in
	OpLogin               // one operator logs in
	OpLogout              // one operator logs out
)

// OpEvent is one operator observation. For OpSet, Op is the comma-separated
// set, sorted, without blanks.
type OpEvent struct {
	T    int64
	Kind uint8
	Op   string
}

// Interval is [Start, End) in Unix nanoseconds.
type Interval struct {
	Start, End int64
}

// Range is [From, To] in Unix nanoseconds, both ends included: the
// event-time range of an equipment whose figures are to be (re)computed.
type Range struct {
	From, To int64
}

// Timeline is the observed history of one equipment. Timeout is the signal
// timeout in nanoseconds (0: silences are never unknown); set it before the
// first observation and keep it.
type Timeline struct {
	Timeout int64
	// PowerWindow is how long behind the latest power observation the
	// observations are kept; older ones are folded into energy pieces
	// (energy.go). 0 keeps every observation.
	PowerWindow int64
	// Cuts returns the instants in (a, b) where an energy piece must start
	// besides the timeline's own (the plant's hours, the line's calendar);
	// nil: every hour of Unix time.
	Cuts func(a, b int64) []int64

	first, horizon int64
	seen           bool
	run            []Point
	state          []StatePoint
	alarm          []AlarmPoint
	count          []Count
	series         [NumSeries][]Count
	ops            []OpEvent
	silences       []Interval // sorted, disjoint; each longer than Timeout
	gaps           []Interval // as reported, sorted by Start
	pieces         []Piece    // folded power (energy.go), sorted, contiguous up to fold
	fold           int64
	cutBuf         []int64 // scratch for cutsIn
}

// Observe records that the equipment reported something at t: it extends
// the data span and splits the silence t falls in. It reports whether the
// silences changed.
func (tl *Timeline) Observe(t int64) bool {
	if !tl.seen {
		tl.first, tl.horizon, tl.seen = t, t, true
		return false
	}
	switch {
	case t < tl.first:
		old := tl.first
		tl.first = t
		if tl.Timeout > 0 && old-t > tl.Timeout {
			tl.silences = append([]Interval{{t, old}}, tl.silences...)
			return true
		}
	case t > tl.horizon:
		old := tl.horizon
		tl.horizon = t
		if tl.Timeout > 0 && t-old > tl.Timeout {
			tl.silences = append(tl.silences, Interval{old, t})
			return true
		}
	default:
		i := sort.Search(len(tl.silences), func(i int) bool { return tl.silences[i].End > t })
		if i == len(tl.silences) || tl.silences[i].Start >= t {
			return false
		}
		s := tl.silences[i]
		var repl []Interval
		if t-s.Start > tl.Timeout {
			repl = append(repl, Interval{s.Start, t})
		}
		if s.End-t > tl.Timeout {
			repl = append(repl, Interval{t, s.End})
		}
		tl.silences = append(tl.silences[:i], append(repl, tl.silences[i+1:]...)...)
		return true
	}
	return false
}

// SetRun records a run observation (True, False or Bad) at t and reports
// whether the stored value changed.
func (tl *Timeline) SetRun(t int64, v int8) bool {
	return upsert(&tl.run, Point{T: t, V: v}, func(p Point) int64 { return p.T }, func(a, b Point) bool { return a.V > b.V })
}

// SetAlarm records an alarm observation (True: active, with its code) at
// t and reports whether the stored observation changed. The code is kept
// only with True.
func (tl *Timeline) SetAlarm(t int64, v int8, code string) bool {
	if v != True {
		code = ""
	}
	return upsert(&tl.alarm, AlarmPoint{T: t, V: v, Code: code}, func(p AlarmPoint) int64 { return p.T }, alarmGreater)
}

// SetState records a state observation at t.
func (tl *Timeline) SetState(t int64, s State) bool {
	return upsert(&tl.state, StatePoint{T: t, S: s}, func(p StatePoint) int64 { return p.T }, func(a, b StatePoint) bool { return a.S > b.S })
}

// upsert keeps pts sorted by time with one entry per instant: p is
// inserted, or, at an instant already taken, replaces the entry when it is
// greater (so the result does not depend on the order of arrival). It
// reports whether pts changed.
func upsert[P any](pts *[]P, p P, at func(P) int64, greater func(a, b P) bool) bool {
	s, t := *pts, at(p)
	i := sort.Search(len(s), func(i int) bool { return at(s[i]) >= t })
	if i < len(s) && at(s[i]) == t {
		if greater(p, s[i]) {
			s[i] = p
			return true
		}
		return false
	}
	var zero P
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = p
	*pts = s
	return true
}

// NormalizeOps turns an operator signal value into its canonical set form.
func NormalizeOps(v string) string {
	var ids []string
	for _, id := range strings.Split(v, ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	ids = compactStrings(ids)
	return strings.Join(ids, ",")
}

func compactStrings(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

func opLess(a, b OpEvent) bool {
	if a.T != b.T {
		return a.T < b.T
	}
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	return a.Op < b.Op
}

// AddOp records an operator event; it reports whether it was new.
func (tl *Timeline) AddOp(e OpEvent) bool {
	i := sort.Search(len(tl.ops), func(i int) bool { return !opLess(tl.ops[i], e) })
	if i < len(tl.ops) && tl.ops[i] == e {
		return false
	}
	tl.ops = append(tl.ops, OpEvent{})
	copy(tl.ops[i+1:], tl.ops[i:])
	tl.ops[i] = e
	return true
}

// AddGap records a range the agent reported as lost; it reports whether it was new.
func (tl *Timeline) AddGap(g Interval) bool {
	if g.End <= g.Start {
		return false
	}
	i := sort.Search(len(tl.gaps), func(i int) bool {
		return tl.gaps[i].Start > g.Start || (tl.gaps[i].Start == g.Start && tl.gaps[i].End >= g.End)
	})
	if i < len(tl.gaps) && tl.gaps[i] == g {
		return false
	}
	tl.gaps = append(tl.gaps, Interval{})
	copy(tl.gaps[i+1:], tl.gaps[i:])
	tl.gaps[i] = g
	return true
}

// Span returns the first and latest observation times; ok is false when the
// equipment never reported.
func (tl *Timeline) Span() (first, horizon int64, ok bool) {
	return tl.first, tl.horizon, tl.seen
}

// Run, States, Alarms, Ops, Silences and Gaps return the stored observations
// in time order. The slices must not be modified.
func (tl *Timeline) Run() []Point         { return tl.run }
func (tl *Timeline) States() []StatePoint { return tl.state }
func (tl *Timeline) Alarms() []AlarmPoint { return tl.alarm }
func (tl *Timeline) Ops() []OpEvent       { return tl.ops }
func (tl *Timeline) Silences() []Interval { return tl.silences }
func (tl *Timeline) Gaps() []Interval     { return tl.gaps }

func (tl *Timeline) restoreSpan(first, horizon int64) {
	tl.first, tl.horizon, tl.seen = first, horizon, true
}

// Saved is a timeline's stored form.
type Saved struct {
	First, Horizon int64
	Run            []Point
	State          []StatePoint
	Alarm          []AlarmPoint
	Count          []Count
	Scrap          []Count
	Power          []Count
	Energy         []Count
	Ops            []OpEvent
	Silences       []Interval
	Gaps           []Interval
	// Pieces are the folded energy pieces, ending at Fold (energy.go).
	Pieces []Piece
	Fold   int64
}

// Series returns the stored observations of series s.
func (s *Saved) Series(k Series) *[]Count {
	return [NumSeries]*[]Count{&s.Scrap, &s.Power, &s.Energy}[k]
}

// Restore rebuilds a timeline from its stored form.
func Restore(timeout int64, s Saved) *Timeline {
	tl := &Timeline{Timeout: timeout}
	tl.restoreSpan(s.First, s.Horizon)
	for _, p := range s.Run {
		tl.SetRun(p.T, p.V)
	}
	for _, p := range s.State {
		tl.SetState(p.T, p.S)
	}
	for _, p := range s.Alarm {
		tl.SetAlarm(p.T, p.V, p.Code)
	}
	for _, c := range s.Count {
		tl.SetCount(c.T, c.V)
	}
	for k := range NumSeries {
		for _, c := range *s.Series(k) {
			tl.SetSeries(k, c.T, c.V)
		}
	}
	for _, e := range s.Ops {
		tl.AddOp(e)
	}
	for _, g := range s.Gaps {
		tl.AddGap(g)
	}
	tl.silences = append(tl.silences[:0], s.Silences...)
	sort.Slice(tl.silences, func(i, j int) bool { return tl.silences[i].Start < tl.silences[j].Start })
	tl.pieces = append(tl.pieces[:0], s.Pieces...)
	sort.Slice(tl.pieces, func(i, j int) bool { return tl.pieces[i].T < tl.pieces[j].T })
	tl.fold = s.Fold
	if len(tl.pieces) > 0 && tl.fold == 0 {
		// Stored without its end: the pieces end where the power
		// observations kept begin.
		if pw := tl.series[SeriesPower]; len(pw) > 0 {
			tl.fold = pw[0].T
		}
	}
	return tl
}

// Change is what a batch of observations changed for one equipment: its span
// after the batch, the observations it added or changed (with their resolved
// values), and, when they changed, all its silences.
type Change struct {
	Key             signal.Key
	First, Horizon  int64
	Run             []Point
	State           []StatePoint
	Alarm           []AlarmPoint
	Count           []Count
	Scrap           []Count
	Power           []Count
	Energy          []Count
	Ops             []OpEvent
	Gaps            []Interval
	SilencesChanged bool
	Silences        []Interval
	// PowerFolded are the power observations folded into pieces (removed);
	// Pieces the energy pieces added or changed, with their energy.
	PowerFolded []int64
	Pieces      []Piece
}

// Series returns the changed observations of series s.
func (c *Change) Series(k Series) *[]Count {
	return [NumSeries]*[]Count{&c.Scrap, &c.Power, &c.Energy}[k]
}
