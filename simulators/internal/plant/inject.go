package plant

import (
	"sort"
	"time"
)

// force is an injected stretch [start, end) in which a machine reports a
// fixed state: a fault (down or idle), or a planned stop of its line
// (reported as state planned_stop, as PLCs report planned maintenance).
type force struct {
	start, end time.Time
	state      string
	planned    bool
}

// window is a stretch of time [start, end).
type window struct{ start, end time.Time }

// forcedAt returns the state forced at t: a fault's state wins over a
// planned stop; empty when nothing is forced.
func forcedAt(fs []force, t time.Time) string {
	st := ""
	for _, f := range fs {
		if f.start.After(t) || !f.end.After(t) {
			continue
		}
		if !f.planned {
			return f.state
		}
		st = PlannedStopState
	}
	return st
}

// inject places the configured faults and planned stops at their offsets
// from liveStart on the machines and lines they name.
func (p *Plant) inject(liveStart time.Time) {
	byName := map[string]*line{}
	for _, l := range p.lines {
		byName[l.cfg.Name] = l
	}
	for _, f := range p.cfg.Faults {
		l := byName[f.Line]
		m := l.machines[f.Machine-1]
		start := liveStart.Add(f.At)
		m.forces = append(m.forces, force{start: start, end: start.Add(f.Duration), state: f.State})
		p.faults = append(p.faults, injected{line: l, machine: m, state: f.State, start: start, end: start.Add(f.Duration)})
	}
	for _, s := range p.cfg.PlannedStops {
		l := byName[s.Line]
		start := liveStart.Add(s.At)
		w := window{start, start.Add(s.Duration)}
		l.stops = append(l.stops, w)
		for _, m := range l.machines {
			m.forces = append(m.forces, force{start: w.start, end: w.end, state: PlannedStopState, planned: true})
		}
		p.stops = append(p.stops, injected{line: l, start: w.start, end: w.end})
	}
	for _, l := range p.lines {
		sort.Slice(l.stops, func(i, j int) bool { return l.stops[i].start.Before(l.stops[j].start) })
		for _, m := range l.machines {
			var bs []time.Time
			for _, f := range m.forces {
				bs = append(bs, f.start, f.end)
			}
			sort.Slice(bs, func(i, j int) bool { return bs[i].Before(bs[j]) })
			for _, b := range bs {
				if n := len(m.bnds); n == 0 || !m.bnds[n-1].Equal(b) {
					m.bnds = append(m.bnds, b)
				}
			}
		}
	}
}

// injected is a fault (machine set) or a planned stop as placed in time.
type injected struct {
	line       *line
	machine    *machine
	state      string
	start, end time.Time
}

// FaultTruth is an injected fault as it happened: the machine reported
// State over [Start, End). Shift names the shift instance of the line on
// duty at Start ("" outside shifts).
type FaultTruth struct {
	Line      string    `json:"line"`
	Equipment string    `json:"equipment"`
	State     string    `json:"state"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Shift     string    `json:"shift"`
}

// PlannedStopTruth is an injected planned stop of a line over [Start, End).
type PlannedStopTruth struct {
	Line  string    `json:"line"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// injectedTruth lists the faults and planned stops that started before the
// end of the simulation, their ends cut at it.
func (p *Plant) injectedTruth() ([]FaultTruth, []PlannedStopTruth) {
	faults, stops := []FaultTruth{}, []PlannedStopTruth{}
	for _, f := range p.faults {
		if !f.start.Before(p.end) {
			continue
		}
		shift := ""
		if i, ok := f.line.cal.onDuty(f.start); ok {
			shift = f.line.cfg.Shifts[i]
		}
		faults = append(faults, FaultTruth{Line: f.line.cfg.Name, Equipment: f.machine.name, State: f.state,
			Start: f.start.UTC(), End: minTime(f.end, p.end).UTC(), Shift: shift})
	}
	for _, s := range p.stops {
		if s.start.Before(p.end) {
			stops = append(stops, PlannedStopTruth{Line: s.line.cfg.Name, Start: s.start.UTC(), End: minTime(s.end, p.end).UTC()})
		}
	}
	sort.SliceStable(faults, func(i, j int) bool { return faults[i].Start.Before(faults[j].Start) })
	sort.SliceStable(stops, func(i, j int) bool { return stops[i].Start.Before(stops[j].Start) })
	return faults, stops
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
