package engine

import (
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Scope is what a breakdown covers: a site (Line empty), one of its
// lines, or one equipment of a line.
type Scope struct {
	Site, Line, Equipment string
}

// Slice is one period of a breakdown: the figures of every equipment of
// the scope in it, and their line or site rollup (for an equipment scope,
// the equipment's figures alone; Rollup is then its line's over it only).
type Slice struct {
	Period    activity.Period
	Equipment []activity.Figures
	Rollup    activity.Rollup
	// HasRollup is false when no registered equipment of the scope has the
	// period (Rollup is zero).
	HasRollup bool
}

// Breakdown cuts [from, to) into periods of kind (hour, shift or day) and
// returns sc's figures in each, in time order: the periods that start in
// [from, to). They are the figures the engine writes for those periods
// (Figures, ChunkFigures), computed as Month computes a month. Shifts come
// from the calendars of the scope's lines; on a site of lines with
// different calendars a shift is the lines' occurrences of that name
// starting at that instant, each line's equipment over its own occurrence
// (the slice's End is the latest). ok is false when sc names a line or an
// equipment the engine does not know.
func (e *Engine) Breakdown(kind string, from, to time.Time, sc Scope) (out []Slice, ok bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var lines []lineKey
	for _, lk := range e.sortedLines() {
		if lk.site == sc.Site && (sc.Line == "" || lk.line == sc.Line) {
			lines = append(lines, lk)
		}
	}
	if sc.Line != "" && len(lines) == 0 {
		return nil, false
	}
	if sc.Equipment != "" {
		if _, known := e.equipment[signal.Key{Site: sc.Site, Line: sc.Line, Equipment: sc.Equipment}]; !known {
			return nil, false
		}
	}
	loc := e.location()
	type slot struct {
		start int64
		shift string
	}
	index := map[slot]int{}
	type job struct {
		slice, at int
		k         signal.Key
		spans     []calendar.Span
		p         activity.Period
	}
	var jobs []job
	for _, lk := range lines {
		cal := e.opts.Calendar(lk.site, lk.line)
		var periods []activity.Period
		if kind == activity.Shift {
			for _, in := range e.shiftsStarting(cal, from, to) {
				periods = append(periods, activity.Period{Kind: activity.Shift, Start: time.Unix(0, in.Start).In(loc),
					End: time.Unix(0, in.End).In(loc), Shift: in.Name})
			}
		} else if to.After(from) {
			for _, p := range activity.Between(kind, from, to.Add(-time.Nanosecond), loc, nil) {
				if !p.Start.Before(from) {
					periods = append(periods, p)
				}
			}
		}
		keys := append([]signal.Key(nil), e.lines[lk]...)
		sort.Slice(keys, func(i, j int) bool { return keys[i].Equipment < keys[j].Equipment })
		for _, p := range periods {
			s := slot{p.Start.UnixNano(), p.Shift}
			i, seen := index[s]
			if !seen {
				i = len(out)
				index[s] = i
				out = append(out, Slice{Period: p})
			}
			if p.End.After(out[i].Period.End) {
				out[i].Period.End = p.End
			}
			var spans []calendar.Span // the line's calendar, cut once for all its equipment
			if cal != nil {
				spans = activity.CalendarSpans(cal, p)
			}
			for _, k := range keys {
				if sc.Equipment == "" || k.Equipment == sc.Equipment {
					jobs = append(jobs, job{slice: i, at: len(out[i].Equipment), k: k, spans: spans, p: p})
					out[i].Equipment = append(out[i].Equipment, activity.Figures{})
				}
			}
		}
	}
	// The figures are computed on every core: each reads the engine only
	// (as concurrent readers do), and a site's month of days or shifts is
	// a figure per equipment per period.
	workers := min(runtime.GOMAXPROCS(0), (len(jobs)+63)/64)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := w; j < len(jobs); j += workers {
				jb := jobs[j]
				out[jb.slice].Equipment[jb.at] = e.computeSpans(jb.k, jb.spans, jb.p)
			}
		}()
	}
	wg.Wait()
	sort.SliceStable(out, func(i, j int) bool { return out[i].Period.Start.Before(out[j].Period.Start) })
	for i := range out {
		figs := out[i].Equipment
		if sc.Equipment != "" { // the equipment alone, registered or not
			figs = make([]activity.Figures, len(out[i].Equipment))
			for j, f := range out[i].Equipment {
				f.Registered = true
				figs[j] = f
			}
		}
		for _, r := range activity.RollUp(figs, e.opts.Tiers) {
			if r.Site == sc.Site && r.Line == sc.Line {
				out[i].Rollup, out[i].HasRollup = r, true
			}
		}
	}
	return out, true
}

// shiftsStarting returns the shift occurrences of cal that start in
// [from, to), in order (none when cal is nil or has no shifts).
func (e *Engine) shiftsStarting(cal *calendar.Calendar, from, to time.Time) []calendar.Instance {
	if cal == nil {
		return nil
	}
	var out []calendar.Instance
	for _, in := range cal.ShiftInstances(from.UnixNano(), to.UnixNano()) {
		if in.Start >= from.UnixNano() && in.Start < to.UnixNano() {
			out = append(out, in)
		}
	}
	return out
}
