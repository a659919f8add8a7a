package engine

import (
	"slices"
	"sort"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/state"
)

// Chunk is a piece of the figure work of pending ranges, whose size does not
// depend on how wide the ranges are: a plant month (its month figures and
// operator months) or a plant day (its hour, shift and day figures and the
// state steps). Its figures are those of the ranges clipped to [From, To).
type Chunk struct {
	From, To time.Time
	Month    bool
}

// Chunks cuts the figure work of dirty into the days and months its ranges
// touch, days first, each in time order. The figures of every chunk,
// written, are the figures Figures gives for dirty (a shift across midnight
// is in two day chunks; state steps are changes, which no chunk boundary
// makes), so memory is bounded by the work of a day or a month whatever
// the ranges span, and only the days and months some range touches are
// computed.
func (e *Engine) Chunks(dirty Dirty) []Chunk {
	e.mu.RLock()
	dirty = e.retained(dirty) // nothing below the restatement floor
	e.mu.RUnlock()
	if len(dirty) == 0 {
		return nil
	}
	loc := e.location()
	rs := make([][2]int64, 0, len(dirty))
	for _, r := range dirty {
		rs = append(rs, [2]int64{r.From, r.To})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i][0] < rs[j][0] })
	var days, months []Chunk
	add := func(out []Chunk, p activity.Period, month bool) []Chunk {
		if n := len(out); n > 0 && !p.Start.After(out[n-1].From) {
			return out
		}
		return append(out, Chunk{From: p.Start, To: p.End, Month: month})
	}
	for i := 0; i < len(rs); {
		a, b := rs[i][0], rs[i][1]
		for i++; i < len(rs) && rs[i][0] <= b+1; i++ {
			b = max(b, rs[i][1])
		}
		last := time.Unix(0, b)
		for d := activity.DayOf(time.Unix(0, a), loc); !d.Start.After(last); d = activity.DayOf(d.End, loc) {
			days = add(days, d, false)
		}
		for m := activity.MonthOf(time.Unix(0, a), loc); !m.Start.After(last); m = activity.MonthOf(m.End, loc) {
			months = add(months, m, true)
		}
	}
	return append(days, months...)
}

// ChunkFigures returns the figures of one chunk of dirty (see Chunks).
func (e *Engine) ChunkFigures(dirty Dirty, c Chunk) Result {
	e.mu.Lock() // the operator month cache is written
	defer e.mu.Unlock()
	in := e.retained(dirty.clip(c.From.UnixNano(), c.To.UnixNano()))
	lo, hi, ok := in.bounds()
	if !ok {
		return Result{}
	}
	if c.Month {
		var kinds []string
		if slices.Contains(e.opts.Kinds, activity.Month) {
			kinds = []string{activity.Month}
		}
		res := e.periodFigures(in, lo, hi, kinds)
		res.Operators = e.monthsOperators(lo, hi)
		return res
	}
	kinds := slices.DeleteFunc(slices.Clone(e.opts.Kinds), func(k string) bool { return k == activity.Month })
	res := e.periodFigures(in, lo, hi, kinds)
	res.States, res.StateRanges = e.states(in)
	return res
}

// Points is how many points the result writes.
func (r Result) Points() int {
	return len(r.Equipment) + len(r.Rollups) + len(r.Operators) + len(r.States)
}

// Add appends o's figures to r.
func (r *Result) Add(o Result) {
	r.Equipment = append(r.Equipment, o.Equipment...)
	r.Rollups = append(r.Rollups, o.Rollups...)
	r.Operators = append(r.Operators, o.Operators...)
	r.States = append(r.States, o.States...)
	r.StateRanges = append(r.StateRanges, o.StateRanges...)
}

// clip is d cut to [from, to): ranges outside it are left out.
func (d Dirty) clip(from, to int64) Dirty {
	out := Dirty{}
	for k, r := range d {
		lo, hi := max(r.From, from), min(r.To, to-1)
		if lo <= hi {
			out[k] = state.Range{From: lo, To: hi}
		}
	}
	return out
}

// bounds is the earliest start and latest end of d's ranges.
func (d Dirty) bounds() (lo, hi int64, ok bool) {
	for _, r := range d {
		if !ok || r.From < lo {
			lo = r.From
		}
		if !ok || r.To > hi {
			hi = r.To
		}
		ok = true
	}
	return lo, hi, ok
}

// periodFigures returns, for every line, the figures of every period of
// kinds touching [lo, hi]: the equipment's whose range touches the period,
// and the line and site rollups of all. e.mu is held.
func (e *Engine) periodFigures(dirty Dirty, lo, hi int64, kinds []string) Result {
	loc := e.opts.Location
	from, to := time.Unix(0, lo), time.Unix(0, hi)
	var res Result
	var all []activity.Figures
	for _, lk := range e.sortedLines() {
		cal := e.opts.Calendar(lk.site, lk.line)
		for _, kind := range kinds {
			for _, p := range activity.Between(kind, from, to, loc, cal) {
				for _, k := range e.lines[lk] {
					f := e.compute(k, cal, p)
					all = append(all, f)
					if r, ok := dirty[k]; ok && r.From < p.End.UnixNano() && r.To >= p.Start.UnixNano() {
						res.Equipment = append(res.Equipment, f)
					}
				}
			}
		}
	}
	if len(all) > 0 {
		res.Rollups = activity.RollUp(all, e.opts.Tiers)
	}
	return res
}

// states returns the state changes of dirty's ranges (state.Changes: the
// state just before a range is looked at, so neither a range start nor a
// chunk boundary makes a step) and the ranges they cover. A range that
// reaches an equipment's latest observation takes the open interval too
// (state.Timeline.Open): the state that holds now, from its start, and the
// change to unknown where the signal timeout will have passed; its range is
// widened to that instant, so the delete before the write removes the open
// interval's points written before the horizon moved. e.mu is held.
func (e *Engine) states(dirty Dirty) ([]StateStep, []StateRange) {
	var out []StateStep
	var rs []StateRange
	for _, k := range sortedKeys(dirty) {
		tl := e.timelines[k]
		if tl == nil {
			continue
		}
		r := dirty[k]
		open, end := tl.Open()
		_, h, _ := tl.Span()
		if r.To >= h {
			r.To = max(r.To, end)
		}
		rs = append(rs, StateRange{Key: k, From: time.Unix(0, r.From).In(e.opts.Location), To: time.Unix(0, r.To).In(e.opts.Location),
			Open: r.To >= end})
		to := min(r.To, end) // nothing changes after end
		if to < r.From {
			continue
		}
		var spans []calendar.Span
		if cal := e.opts.Calendar(k.Site, k.Line); cal != nil {
			spans = cal.Spans(r.From-1, to+1)
		}
		for _, st := range open.Changes(r.From, to+1, spans) {
			out = append(out, StateStep{Key: k, Start: time.Unix(0, st.Start).In(e.opts.Location), State: st.State})
		}
	}
	return out, rs
}

// monthsOperators returns the operator figures of the months touching
// [lo, hi], computed afresh. e.mu is held for writing.
func (e *Engine) monthsOperators(lo, hi int64) []activity.OperatorFigures {
	var out []activity.OperatorFigures
	for _, m := range activity.MonthsBetween(time.Unix(0, lo), time.Unix(0, hi), e.opts.Location) {
		for _, lk := range e.sortedLines() {
			delete(e.opMonths, opMonthKey{lk.site, lk.line, m.Start.UnixNano()})
		}
		out = append(out, e.operators(m, nil)...)
	}
	activity.SortOperators(out)
	return out
}

// location is the plant's time zone (UTC when none is set).
func (e *Engine) location() *time.Location {
	if e.opts.Location == nil {
		return time.UTC
	}
	return e.opts.Location
}
