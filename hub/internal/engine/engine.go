// Package engine applies decoded signals to the equipment timelines and says
// which figures they change. It is the pure core of the hub: signals in,
// changes to persist and figures to write out; no I/O, no clock. It is safe
// for concurrent use (the consumer applies, the API reads).
package engine

import (
	"sort"
	"sync"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
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
}

// Engine holds every equipment's timeline.
type Engine struct {
	mu        sync.RWMutex
	opts      Options
	timelines map[signal.Key]*state.Timeline
	equipment map[signal.Key]activity.Equipment
	lines     map[[2]string][]signal.Key // registered equipment per site/line
}

// New builds an engine over saved timelines (may be nil).
func New(opts Options, saved map[signal.Key]*state.Timeline) *Engine {
	e := &Engine{
		opts:      opts,
		timelines: map[signal.Key]*state.Timeline{},
		equipment: map[signal.Key]activity.Equipment{},
		lines:     map[[2]string][]signal.Key{},
	}
	for _, eq := range opts.Registry {
		eq.Registered = true
		e.equipment[eq.Key] = eq
		lk := [2]string{eq.Key.Site, eq.Key.Line}
		e.lines[lk] = append(e.lines[lk], eq.Key)
	}
	for k, tl := range saved {
		e.timelines[k] = tl
		if _, ok := e.equipment[k]; !ok {
			e.equipment[k] = activity.Equipment{Key: k}
		}
	}
	return e
}

// Dirty is the event-time range of one equipment whose figures must be
// recomputed, in Unix nanoseconds.
type Dirty map[signal.Key][2]int64

func (d Dirty) mark(k signal.Key, lo, hi int64) {
	if r, ok := d[k]; ok {
		lo, hi = min(lo, r[0]), max(hi, r[1])
	}
	d[k] = [2]int64{lo, hi}
}

// Apply applies signals to the timelines. It returns the changes to persist
// and the ranges whose figures must be rewritten. Every applied signal marks
// its range dirty even when it changed nothing (a redelivered batch must be
// written out again: its first delivery may have died before the write).
func (e *Engine) Apply(sigs []signal.Signal) ([]state.Change, Dirty) {
	e.mu.Lock()
	defer e.mu.Unlock()
	dirty := Dirty{}
	touched := map[signal.Key][]state.Point{}
	for _, s := range sigs {
		k := s.Key()
		tl := e.timelines[k]
		if tl == nil {
			tl = &state.Timeline{}
			e.timelines[k] = tl
			if _, ok := e.equipment[k]; !ok {
				e.equipment[k] = activity.Equipment{Key: k}
			}
		}
		t := s.Time.UnixNano()
		_, oldHorizon, seen := tl.Span()
		if !seen {
			oldHorizon = t
		}
		pts := touched[k]
		if s.Name == signal.Run && s.Gap == nil {
			run := s.Value.Truthy()
			if tl.SetRun(t, run) {
				pts = append(pts, state.Point{T: t, Run: run})
			}
		} else {
			tl.Observe(t)
		}
		touched[k] = pts
		_, horizon, _ := tl.Span()
		dirty.mark(k, min(t, oldHorizon), horizon)
	}
	changes := make([]state.Change, 0, len(touched))
	for k, pts := range touched {
		first, horizon, _ := e.timelines[k].Span()
		// Store the resolved value at each touched instant (true wins over false).
		resolved := make([]state.Point, 0, len(pts))
		for _, p := range pts {
			resolved = append(resolved, e.pointAt(k, p.T))
		}
		changes = append(changes, state.Change{Key: k, First: first, Horizon: horizon, Points: resolved})
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Key.String() < changes[j].Key.String() })
	return changes, dirty
}

func (e *Engine) pointAt(k signal.Key, t int64) state.Point {
	pts := e.timelines[k].Points()
	i := sort.Search(len(pts), func(i int) bool { return pts[i].T >= t })
	return pts[i]
}

// Figures returns the equipment months and line months to write for dirty:
// every month a dirty range touches, for its equipment, and for every
// registered line (a line's active rate depends on all its equipment).
func (e *Engine) Figures(dirty Dirty) ([]activity.EquipmentMonth, []activity.LineMonth) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	type lineMonth struct {
		line  [2]string
		month int64
	}
	months := map[int64]activity.Month{}
	eqMonths := map[signal.Key]map[int64]bool{}
	lineMonths := map[lineMonth]bool{}
	for k, r := range dirty {
		for _, m := range activity.MonthsBetween(time.Unix(0, r[0]), time.Unix(0, r[1]), e.opts.Location) {
			ms := m.Start.UnixNano()
			months[ms] = m
			if eqMonths[k] == nil {
				eqMonths[k] = map[int64]bool{}
			}
			eqMonths[k][ms] = true
		}
	}
	// Every registered line gets figures for every dirty month, so a line whose
	// machines were all silent that month still shows its (zero) active rate.
	for ms := range months {
		for line := range e.lines {
			lineMonths[lineMonth{line, ms}] = true
		}
	}
	var ems []activity.EquipmentMonth
	for k, set := range eqMonths {
		for ms := range set {
			ems = append(ems, e.equipmentMonth(k, months[ms]))
		}
	}
	var lineEMs []activity.EquipmentMonth
	for lm := range lineMonths {
		for _, k := range e.lines[lm.line] {
			lineEMs = append(lineEMs, e.equipmentMonth(k, months[lm.month]))
		}
	}
	sort.Slice(ems, func(i, j int) bool {
		if ems[i].Key != ems[j].Key {
			return ems[i].Key.String() < ems[j].Key.String()
		}
		return ems[i].Month.Start.Before(ems[j].Month.Start)
	})
	return ems, activity.RollUp(lineEMs)
}

func (e *Engine) equipmentMonth(k signal.Key, m activity.Month) activity.EquipmentMonth {
	eq := e.equipment[k]
	return activity.ComputeEquipment(eq, e.timelines[k], m, e.opts.Threshold(eq.Class))
}

// Month returns the figures of every known equipment (registered or
// reporting) and every registered line for one month.
func (e *Engine) Month(m activity.Month) ([]activity.EquipmentMonth, []activity.LineMonth) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	keys := make([]signal.Key, 0, len(e.equipment))
	for k := range e.equipment {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	ems := make([]activity.EquipmentMonth, 0, len(keys))
	for _, k := range keys {
		ems = append(ems, e.equipmentMonth(k, m))
	}
	return ems, activity.RollUp(ems)
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
	return time.Unix(0, lo), time.Unix(0, hi), ok
}
