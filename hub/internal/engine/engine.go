// Package engine applies decoded signals to the equipment timelines and
// computes the figures they change. It is the pure core of the hub: signals
// in, changes to persist and figures to write out; no I/O, no clock. It is
// safe for concurrent use (the consumer applies, the flusher and the API read).
//
// What holds: applying a batch twice, or its signals in any order, leaves the
// same timelines; Figures for the same dirty ranges of the same timelines are
// the same values with the same timestamps, so rewriting them replaces points.
package engine

import (
	"sort"
	"sync"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Options configure an engine.
type Options struct {
	Location *time.Location
	// Registry lists the registered equipment with its class.
	Registry []activity.Equipment
	// Threshold returns the active-month threshold of a class.
	Threshold func(class string) time.Duration
	// Timeout is the signal timeout: silence longer than it is unknown (0: never).
	Timeout time.Duration
	// MaxLateness sets aside (and counts) signals older than their
	// equipment's latest observation by more than this (0: any lateness is
	// placed and restates the periods it affects).
	MaxLateness time.Duration
	// StateCodes maps state signal values (as text: "3", "RUN") to states.
	// The state names themselves (running, idle, ...) always map.
	StateCodes map[string]state.State
	// Calendar returns a line's calendar (nil: around the clock).
	Calendar func(site, line string) *calendar.Calendar
	// IdleRunningAfter: running this long without a counter increase is
	// idle running (0: not computed).
	IdleRunningAfter time.Duration
	// Kinds are the period kinds figures are computed for (default: all).
	Kinds []string
	Tiers activity.Tiers
	// Operators: the active-month threshold, tiers and attrition rule.
	OperatorThreshold time.Duration
	OperatorTiers     activity.Tiers
	Attrition         activity.AttritionRule
	// MaxUnregistered bounds how many equipment missing from the registry
	// Admit takes per site (0: any); with RejectUnregistered it takes none.
	MaxUnregistered    int
	RejectUnregistered bool
}

// MaxValueLen bounds a signal's string value in bytes. A longer one is set
// aside and counted (Stats.TooLarge): an operator value is stored as part
// of a key of the state store, whose keys are bounded (32 KiB), and a value
// that could never be committed would stop its batch for good.
const MaxValueLen = 4096

// Stats counts what the engine set aside.
type Stats struct {
	UnmappedStates uint64 // state values with no mapping (taken as unknown)
	TooLate        uint64 // signals set aside: later than MaxLateness
	TooLarge       uint64 // signals set aside: a string value longer than MaxValueLen
	// Signals of equipment missing from the registry that Admit took, and
	// those it set aside.
	UnregisteredAccepted, UnregisteredRejected uint64
}

// Engine holds every equipment's timeline.
type Engine struct {
	mu        sync.RWMutex
	opts      Options
	timelines map[signal.Key]*state.Timeline
	equipment map[signal.Key]activity.Equipment
	lines     map[lineKey][]signal.Key // equipment per site/line (registered first, then reporting)
	stats     Stats
	opMonths  map[opMonthKey]map[string]float64 // operator run seconds per site/line/month, cached
	floor     int64                             // nothing older is restated (retain.go)
	// unregistered counts the equipment missing from the registry per site.
	unregistered map[string]int
	// compacted are the changes folding restored power made (Compacted).
	compacted []state.Change
	folded    state.Folded // scratch for fold, under mu
}

// lineKey names a line of a site.
type lineKey struct{ site, line string }

type opMonthKey struct {
	site, line string
	start      int64
}

// New builds an engine over saved timelines (may be nil).
func New(opts Options, saved map[signal.Key]state.Saved) *Engine {
	if len(opts.Kinds) == 0 {
		opts.Kinds = activity.Kinds
	}
	if opts.Calendar == nil {
		opts.Calendar = func(string, string) *calendar.Calendar { return nil }
	}
	e := &Engine{
		opts:      opts,
		timelines: map[signal.Key]*state.Timeline{},
		equipment: map[signal.Key]activity.Equipment{},
		lines:     map[lineKey][]signal.Key{},
		opMonths:  map[opMonthKey]map[string]float64{},

		unregistered: map[string]int{},
	}
	for _, eq := range opts.Registry {
		eq.Registered = true
		e.addEquipment(eq)
	}
	for k, s := range saved {
		tl := e.equip(k, state.Restore(int64(opts.Timeout), s))
		e.timelines[k] = tl
		if _, ok := e.equipment[k]; !ok {
			e.addEquipment(activity.Equipment{Key: k})
		}
		// A store written before power was folded keeps every power
		// observation: fold them now, and hand the change to be saved.
		c := state.Change{Key: k}
		if e.fold(tl, &c); len(c.PowerFolded) > 0 {
			c.First, c.Horizon, _ = tl.Span()
			resolveEnergy(tl, &c)
			e.compacted = append(e.compacted, c)
		}
	}
	sort.Slice(e.compacted, func(i, j int) bool { return e.compacted[i].Key.String() < e.compacted[j].Key.String() })
	return e
}

func (e *Engine) addEquipment(eq activity.Equipment) {
	e.equipment[eq.Key] = eq
	if !eq.Registered {
		e.unregistered[eq.Key.Site]++
	}
	lk := lineKey{eq.Key.Site, eq.Key.Line}
	e.lines[lk] = append(e.lines[lk], eq.Key)
}

// Dirty is, per equipment, the event-time range whose figures must be
// recomputed.
type Dirty map[signal.Key]state.Range

// Mark widens k's range to hold [lo, hi].
func (d Dirty) Mark(k signal.Key, lo, hi int64) {
	if r, ok := d[k]; ok {
		lo, hi = min(lo, r.From), max(hi, r.To)
	}
	d[k] = state.Range{From: lo, To: hi}
}

// Merge widens d by o.
func (d Dirty) Merge(o Dirty) {
	for k, r := range o {
		d.Mark(k, r.From, r.To)
	}
}

// Stats returns what the engine set aside so far.
func (e *Engine) Stats() Stats {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.stats
}

// Result is the figures to write for a set of dirty ranges.
type Result struct {
	Equipment []activity.Figures
	Rollups   []activity.Rollup
	Operators []activity.OperatorFigures
	// States are the equipment's state changes in the dirty ranges
	// (equipment_state): a step only where the state differs from the state
	// just before (and at the first observation), so the steps of a range do
	// not depend on how the ranges are cut.
	States []StateStep
	// StateRanges are the ranges States were computed over: the writer
	// removes the equipment_state points in them before writing States, so
	// a restated range keeps no point of the intervals it replaced.
	StateRanges []StateRange
	// Cleared says the figure points this result replaces were deleted
	// already (a recompute deletes its whole range first), so the writer
	// need not delete them before writing.
	Cleared bool
}

// StateRange is the closed range [From, To] of an equipment's state steps.
type StateRange struct {
	Key      signal.Key
	From, To time.Time
	// Open is set when To is at or past the end of what the timeline
	// knows: the equipment has no state step after To, so the points a
	// writer removes may reach past To.
	Open bool
}

// StateStep is an equipment's state from Start on.
type StateStep struct {
	Key   signal.Key
	Start time.Time
	State state.State
}

// Figures returns the figures to write for dirty, in one piece: for each
// dirty equipment, every period of every kind its range touches; for every
// registered line and the site, the rollups of every period between the
// earliest and the latest range (a line's figures depend on all its
// equipment, silent ones included); and the operator figures of every month
// touched. Its size grows with the span of the ranges: the hub computes
// pending ranges chunk by chunk (Chunks, ChunkFigures).
func (e *Engine) Figures(dirty Dirty) Result {
	e.mu.Lock() // the operator month cache is written
	defer e.mu.Unlock()
	dirty = e.retained(dirty)
	lo, hi, ok := dirty.bounds()
	if !ok {
		return Result{}
	}
	res := e.periodFigures(dirty, lo, hi, e.opts.Kinds)
	res.States, res.StateRanges = e.states(dirty)
	res.Operators = e.monthsOperators(lo, hi)
	return res
}

func sortedKeys(d Dirty) []signal.Key {
	keys := make([]signal.Key, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys
}

func (e *Engine) sortedLines() []lineKey {
	out := make([]lineKey, 0, len(e.lines))
	for lk := range e.lines {
		out = append(out, lk)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].site != out[j].site {
			return out[i].site < out[j].site
		}
		return out[i].line < out[j].line
	})
	return out
}

func (e *Engine) compute(k signal.Key, cal *calendar.Calendar, p activity.Period) activity.Figures {
	var spans []calendar.Span
	if cal != nil && e.timelines[k] != nil {
		spans = activity.CalendarSpans(cal, p)
	}
	return e.computeSpans(k, spans, p)
}

// computeSpans is compute with the line's calendar already cut for p by
// activity.CalendarSpans (nil: around the clock), so that the equipment of
// a line share one cut.
func (e *Engine) computeSpans(k signal.Key, spans []calendar.Span, p activity.Period) activity.Figures {
	eq := e.equipment[k]
	var thr time.Duration
	if p.Kind == activity.Month {
		thr = e.opts.Threshold(eq.Class)
	}
	f := activity.ComputeSpans(eq, e.timelines[k], spans, p, thr)
	if tl := e.timelines[k]; tl != nil && e.opts.IdleRunningAfter > 0 {
		from, to := p.Start, p.End
		if f.Registered {
			from, to, _ = eq.InService.Clip(p)
		}
		ns, ok := tl.IdleRunning(from.UnixNano(), to.UnixNano(), int64(e.opts.IdleRunningAfter))
		f.IdleRunSeconds, f.HasCounter = float64(ns)/1e9, ok
	}
	return f
}

// opRun returns the operators' run seconds on one line in month m (cached).
func (e *Engine) opRun(lk lineKey, m activity.Period) map[string]float64 {
	key := opMonthKey{lk.site, lk.line, m.Start.UnixNano()}
	if v, ok := e.opMonths[key]; ok {
		return v
	}
	cal := e.opts.Calendar(lk.site, lk.line)
	out := map[string]float64{}
	for _, k := range e.lines[lk] {
		sp, ok := e.equipment[k].ServicePeriod(m) // run time out of service does not count
		if !ok {
			continue
		}
		for op, s := range activity.OperatorRun(e.timelines[k], cal, sp) {
			out[op] += s
		}
	}
	e.opMonths[key] = out
	return out
}

// operators returns month m's operator figures per line and per site. The
// group run time (the share's denominator) is the run time of all the line's
// (site's) equipment, registered or not.
func (e *Engine) operators(m activity.Period, rollups []activity.Rollup) []activity.OperatorFigures {
	type siteOp struct{ site, op string }
	siteRun := map[string]float64{}
	siteOps := map[siteOp]float64{}
	var out []activity.OperatorFigures
	lines := e.sortedLines()
	for _, lk := range lines {
		var lineRun float64
		cal := e.opts.Calendar(lk.site, lk.line)
		for _, k := range e.lines[lk] {
			if _, ok := e.equipment[k].ServicePeriod(m); ok {
				lineRun += activity.Compute(e.equipment[k], e.timelines[k], cal, m, 0).RunSeconds()
			}
		}
		siteRun[lk.site] += lineRun
		for op, s := range e.opRun(lk, m) {
			out = append(out, activity.OperatorFigures{Site: lk.site, Line: lk.line, Operator: op, Period: m,
				RunSeconds: s, GroupRunSeconds: lineRun, Threshold: e.opts.OperatorThreshold})
			siteOps[siteOp{lk.site, op}] += s
		}
	}
	for so, s := range siteOps {
		f := activity.OperatorFigures{Site: so.site, Operator: so.op, Period: m, RunSeconds: s,
			GroupRunSeconds: siteRun[so.site], Threshold: e.opts.OperatorThreshold}
		f.Tier = e.opts.OperatorTiers.Of(time.Duration(s * 1e9))
		// Attrition: the operator's own monthly history over the site.
		var hist []float64
		started := false
		back := e.opts.Attrition.History + e.opts.Attrition.Months
		mm := m
		var series []float64
		for i := 0; i < back; i++ {
			mm = activity.MonthOf(mm.Start.Add(-time.Hour), e.opts.Location)
			var h float64
			for _, lk := range lines {
				if lk.site == so.site {
					h += e.opRun(lk, mm)[so.op]
				}
			}
			series = append(series, h/3600)
		}
		for i := len(series) - 1; i >= 0; i-- { // oldest first, from the first month with activity
			if series[i] > 0 {
				started = true
			}
			if started {
				hist = append(hist, series[i])
			}
		}
		hist = append(hist, s/3600)
		f.Attrition, f.AttritionReason = e.opts.Attrition.Risk(hist)
		out = append(out, f)
	}
	return out
}

// Month returns the figures of every known equipment (registered or
// reporting), every registered line and the site for one month.
func (e *Engine) Month(m activity.Period) ([]activity.Figures, []activity.Rollup) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var figs []activity.Figures
	for _, lk := range e.sortedLines() {
		var spans []calendar.Span // the line's calendar, cut once for all its equipment
		if cal := e.opts.Calendar(lk.site, lk.line); cal != nil {
			spans = activity.CalendarSpans(cal, m)
		}
		keys := append([]signal.Key(nil), e.lines[lk]...)
		sort.Slice(keys, func(i, j int) bool { return keys[i].Equipment < keys[j].Equipment })
		for _, k := range keys {
			figs = append(figs, e.computeSpans(k, spans, m))
		}
	}
	return figs, activity.RollUp(figs, e.opts.Tiers)
}

// Span returns the earliest and latest observation over all equipment.
func (e *Engine) Span() (first, horizon time.Time, ok bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var lo, hi int64
	for _, tl := range e.timelines {
		f, h, seen := tl.Span()
		if !seen {
			continue
		}
		if !ok || f < lo {
			lo = f
		}
		if !ok || h > hi {
			hi = h
		}
		ok = true
	}
	if e.floor != 0 && ok {
		lo = min(max(lo, e.floor), hi)
	}
	return time.Unix(0, lo), time.Unix(0, hi), ok
}
