package engine

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// StateOf maps a state signal's value to a state; ok is false when unmapped.
func (e *Engine) StateOf(v signal.Value) (state.State, bool) {
	var text string
	switch v.Kind {
	case signal.KindNumber:
		text = strconv.FormatFloat(v.Num, 'f', -1, 64)
	case signal.KindBool:
		text = strconv.FormatBool(v.Bool)
	default:
		text = strings.TrimSpace(v.Str)
	}
	if s, ok := e.opts.StateCodes[text]; ok {
		return s, true
	}
	if s, ok := state.ParseState(strings.ToLower(text)); ok && s != state.Unknown && s != state.NoShift {
		return s, true
	}
	return state.Unknown, false
}

// AlarmCode is the code an alarm signal's value carries: a string trimmed, a
// number formatted canonically (shortest form, no exponent: 42, not 42.0),
// "true" for a boolean; the timeline keeps it only when the alarm is active.
func AlarmCode(v signal.Value) string {
	switch v.Kind {
	case signal.KindNumber:
		return strconv.FormatFloat(v.Num, 'f', -1, 64)
	case signal.KindBool:
		return strconv.FormatBool(v.Bool)
	}
	return strings.TrimSpace(v.Str)
}

func tri(s signal.Signal, on bool) int8 {
	if s.Quality != signal.Good {
		return state.Bad
	}
	if on {
		return state.True
	}
	return state.False
}

// Apply applies signals to the timelines. It returns the changes to persist
// and the ranges whose figures must be rewritten. Every applied signal marks
// its range dirty even when it changed nothing (a redelivered batch must be
// written out again: its first delivery may have died before the write), so
// the dirty ranges name every timeline Apply changed. When the changes
// cannot be persisted, Reset those timelines from what is.
func (e *Engine) Apply(sigs []signal.Signal) ([]state.Change, Dirty) {
	e.mu.Lock()
	defer e.mu.Unlock()
	dirty := Dirty{}
	touched := map[signal.Key]*state.Change{}
	for _, s := range sigs {
		if s.Value.Kind == signal.KindString && len(s.Value.Str) > MaxValueLen {
			e.stats.TooLarge++
			continue
		}
		k := s.Key()
		c := touched[k]
		if c == nil {
			c = &state.Change{Key: k}
			touched[k] = c
		}
		if lo, hi, ok := e.apply(e.timeline(k), c, s); ok {
			dirty.Mark(k, lo, hi)
		}
	}
	return e.changes(touched), dirty
}

// Reset replaces the timelines of keys by their stored form in saved, the
// store being the truth: a key that saved lacks had nothing stored, so its
// timeline is dropped, and the key itself when it is not registered. After a
// failed commit it takes back what Apply did, so that the batch, when it
// comes back, is applied and its changes persisted again.
func (e *Engine) Reset(keys []signal.Key, saved map[signal.Key]state.Saved) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, k := range keys {
		if s, ok := saved[k]; ok {
			// Not folded here: the store holds what it holds, and the
			// next power observation folds what is due with its batch.
			e.timelines[k] = e.equip(k, state.Restore(int64(e.opts.Timeout), s))
			if _, ok := e.equipment[k]; !ok {
				e.addEquipment(activity.Equipment{Key: k})
			}
			continue
		}
		delete(e.timelines, k)
		if eq, ok := e.equipment[k]; ok && !eq.Registered {
			e.removeEquipment(k)
		}
	}
	clear(e.opMonths)
}

func (e *Engine) removeEquipment(k signal.Key) {
	if eq, ok := e.equipment[k]; ok && !eq.Registered {
		e.unregistered[k.Site]--
	}
	delete(e.equipment, k)
	lk := lineKey{k.Site, k.Line}
	keys := slices.DeleteFunc(e.lines[lk], func(o signal.Key) bool { return o == k })
	if len(keys) == 0 {
		delete(e.lines, lk)
		return
	}
	e.lines[lk] = keys
}

// timeline returns k's timeline, made (and k added as reporting equipment
// when it is not registered) at its first signal.
func (e *Engine) timeline(k signal.Key) *state.Timeline {
	tl := e.timelines[k]
	if tl == nil {
		tl = e.equip(k, &state.Timeline{Timeout: int64(e.opts.Timeout)})
		e.timelines[k] = tl
		if _, ok := e.equipment[k]; !ok {
			e.addEquipment(activity.Equipment{Key: k})
		}
	}
	return tl
}

// apply places one signal on its timeline, notes in c what it changed and
// returns the range [lo, hi] whose figures it made stale; ok is false when
// the signal was set aside as too late.
func (e *Engine) apply(tl *state.Timeline, c *state.Change, s signal.Signal) (lo, hi int64, ok bool) {
	if s.Gap != nil {
		g := state.Interval{Start: s.Gap.From.UnixNano(), End: s.Gap.To.UnixNano()}
		if e.belowFloor(g.End - 1) {
			e.stats.TooLate++
			return 0, 0, false
		}
		if e.belowFloor(g.Start) {
			g.Start = e.floor // restated from the floor on only (retain.go)
		}
		if tl.AddGap(g) {
			c.Gaps = append(c.Gaps, g)
		}
		return g.Start, g.End, true
	}
	t := s.Time.UnixNano()
	if e.belowFloor(t) {
		e.stats.TooLate++
		return 0, 0, false
	}
	_, oldHorizon, seen := tl.Span()
	if !seen {
		oldHorizon = t
	}
	if e.opts.MaxLateness > 0 && seen && t < oldHorizon-int64(e.opts.MaxLateness) {
		e.stats.TooLate++
		return 0, 0, false
	}
	if s.Name == signal.Power && tl.PowerTooLate(t) {
		e.stats.TooLate++ // older than the power kept: folded already (energy.go)
		return 0, 0, false
	}
	if tl.Observe(t) {
		c.SilencesChanged = true
	}
	e.set(tl, c, s, t)
	_, horizon, _ := tl.Span()
	return min(t, oldHorizon), horizon, true
}

// set applies a signal's value at t by the signal's name.
func (e *Engine) set(tl *state.Timeline, c *state.Change, s signal.Signal, t int64) {
	switch s.Name {
	case signal.Run:
		if tl.SetRun(t, tri(s, s.Value.Truthy())) {
			c.Run = append(c.Run, state.Point{T: t})
		}
	case signal.Count:
		if s.Quality == signal.Good && s.Value.Kind == signal.KindNumber && tl.SetCount(t, s.Value.Num) {
			c.Count = append(c.Count, state.Count{T: t})
		}
	case signal.Scrap, signal.Power, signal.Energy:
		k := state.SeriesScrap
		switch s.Name {
		case signal.Power:
			k = state.SeriesPower
		case signal.Energy:
			k = state.SeriesEnergy
		}
		if s.Quality == signal.Good && s.Value.Kind == signal.KindNumber && tl.SetSeries(k, t, s.Value.Num) {
			ser := c.Series(k)
			*ser = append(*ser, state.Count{T: t})
			if k == state.SeriesPower {
				e.fold(tl, c)
			}
		}
	case signal.Alarm:
		if tl.SetAlarm(t, tri(s, s.Value.Truthy()), AlarmCode(s.Value)) {
			c.Alarm = append(c.Alarm, state.AlarmPoint{T: t})
		}
	case signal.State:
		st := state.Unknown
		if s.Quality == signal.Good {
			var ok bool
			if st, ok = e.StateOf(s.Value); !ok {
				e.stats.UnmappedStates++
			}
		}
		if tl.SetState(t, st) {
			c.State = append(c.State, state.StatePoint{T: t})
		}
	case signal.Operator, signal.Login, signal.Logout:
		if ev, ok := opEvent(s, t); ok && tl.AddOp(ev) {
			c.Ops = append(c.Ops, ev)
		}
	}
}

// opEvent is the operator event of an operator, login or logout signal; ok
// is false for a bad one and for a login or logout without an operator.
func opEvent(s signal.Signal, t int64) (state.OpEvent, bool) {
	id := strings.TrimSpace(s.Value.String())
	switch {
	case s.Quality == signal.Bad:
		return state.OpEvent{}, false
	case s.Name == signal.Login && id != "":
		return state.OpEvent{T: t, Kind: state.OpLogin, Op: id}, true
	case s.Name == signal.Logout && id != "":
		return state.OpEvent{T: t, Kind: state.OpLogout, Op: id}, true
	case s.Name == signal.Operator:
		return state.OpEvent{T: t, Kind: state.OpSet, Op: state.NormalizeOps(s.Value.String())}, true
	}
	return state.OpEvent{}, false
}

// changes completes the touched changes with their timelines' spans and
// the resolved value at each touched instant (the greater wins), sorted by
// equipment.
func (e *Engine) changes(touched map[signal.Key]*state.Change) []state.Change {
	out := make([]state.Change, 0, len(touched))
	for k, c := range touched {
		tl := e.timelines[k]
		c.First, c.Horizon, _ = tl.Span()
		c.Run = resolved(tl.Run(), c.Run)
		for i, p := range c.Alarm {
			as := tl.Alarms()
			c.Alarm[i] = as[sort.Search(len(as), func(j int) bool { return as[j].T >= p.T })]
		}
		for i, p := range c.Count {
			cs := tl.Counts()
			c.Count[i] = cs[sort.Search(len(cs), func(j int) bool { return cs[j].T >= p.T })]
		}
		resolveEnergy(tl, c)
		for _, k := range []state.Series{state.SeriesScrap, state.SeriesEnergy} {
			ser, all := *c.Series(k), tl.SeriesOf(k)
			for i, p := range ser {
				ser[i] = all[sort.Search(len(all), func(j int) bool { return all[j].T >= p.T })]
			}
		}
		for i, p := range c.State {
			st := tl.States()
			c.State[i] = st[sort.Search(len(st), func(j int) bool { return st[j].T >= p.T })]
		}
		if c.SilencesChanged {
			c.Silences = append([]state.Interval(nil), tl.Silences()...)
		}
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key.String() < out[j].Key.String() })
	return out
}

func resolved(all, touched []state.Point) []state.Point {
	for i, p := range touched {
		touched[i] = all[sort.Search(len(all), func(j int) bool { return all[j].T >= p.T })]
	}
	return touched
}
