package activity

import (
	"sort"

	"github.com/floorpulse/floorpulse/hub/internal/state"
)

// Production is what an equipment made and drew in a period: parts from
// its counters, energy from its meter or power signal (ISO 22400-2).
//
// Parts. A counter's increase belongs to the instant of the observation
// that shows it (an increase between two observations lands at the later
// one); a drop means the counter restarted from 0, so the increase is the
// new value (state.CounterIncreases). Good parts come from `count`, scrap
// from `scrap`; an equipment without a scrap signal made no scrap.
//
// Energy. With an `energy` meter (kWh) a reading's increase lands at its
// instant, in the state that held just before it (the state the energy was
// drawn in). Without a meter, `power` (kW) is held from each observation
// to the next and integrated over the time whose state is known: nothing is
// counted while the state is unknown (a silence, a lost range, before the
// first or after the latest word). Power older than the timeline's window
// is kept as energy pieces (state/energy.go), summed the same way.
type Production struct {
	// Good and Scrap are the parts counted in the period.
	Good, Scrap float64
	// HasParts: the equipment reports a good-part counter; HasScrap: a scrap
	// counter.
	HasParts, HasScrap bool
	// Energy is the kWh drawn in each state.
	Energy [state.NumStates]float64
	// HasEnergy: the equipment reports an energy meter or power.
	HasEnergy bool
}

// WasteStates are the states whose energy is waste: drawn while the
// equipment was not meant to produce or could but did not. Setup is part
// of making the order and down time's energy is small and unplanned, so
// neither is waste; unknown time cannot be judged.
var WasteStates = []state.State{state.Idle, state.PlannedStop, state.NoShift}

// production computes parts and energy of tl in [a, b) from segs, the
// state segments from a-1 (as ComputeSpans cuts them).
func production(tl *state.Timeline, segs []state.Seg, a, b int64) Production {
	var p Production
	if cs := tl.Counts(); len(cs) > 0 {
		p.HasParts = true
		for _, d := range state.CounterIncreases(cs, a, b) {
			p.Good += d.V
		}
	}
	if cs := tl.SeriesOf(state.SeriesScrap); len(cs) > 0 {
		p.HasScrap = true
		for _, d := range state.CounterIncreases(cs, a, b) {
			p.Scrap += d.V
		}
	}
	if meter := tl.SeriesOf(state.SeriesEnergy); len(meter) > 0 {
		p.HasEnergy = true
		for _, d := range state.CounterIncreases(meter, a, b) {
			// The segment holding d.T-1: segs start at a-1, so there is one.
			i := sort.Search(len(segs), func(i int) bool { return segs[i].End >= d.T })
			st := state.Unknown
			if i < len(segs) && segs[i].Start < d.T {
				st = segs[i].State
			}
			p.Energy[st] += d.V
		}
		return p
	}
	if !tl.HasPower() {
		return p
	}
	p.HasEnergy = true
	// Folded power (state pieces) up to the fold point, the observations
	// kept from there on.
	pieces, fold := tl.Pieces()
	held := state.HeldIn(tl.SeriesOf(state.SeriesPower), a, b)
	for _, s := range segs {
		lo, hi := max(s.Start, a), min(s.End, b)
		if hi <= lo || s.State == state.Unknown {
			continue
		}
		if len(pieces) > 0 && lo < fold {
			p.Energy[s.State] += tl.PieceEnergy(lo, hi)
			lo = min(fold, hi)
		}
		k := max(sort.Search(len(held), func(i int) bool { return held[i].T > lo })-1, 0)
		for ; k < len(held) && held[k].T < hi; k++ {
			from, to := max(held[k].T, lo), hi
			if k+1 < len(held) {
				to = min(held[k+1].T, hi)
			}
			if to > from {
				p.Energy[s.State] += held[k].V * float64(to-from) / 3600e9
			}
		}
	}
	return p
}

// Produced is the parts made, good and scrap.
func (p Production) Produced() float64 { return p.Good + p.Scrap }

// EnergyKWh is the energy drawn in every state.
func (p Production) EnergyKWh() float64 {
	var sum float64
	for _, v := range p.Energy {
		sum += v
	}
	return sum
}

// EnergyWasteKWh is the energy drawn idle, in planned stops and outside
// shifts.
func (p Production) EnergyWasteKWh() float64 {
	var sum float64
	for _, s := range WasteStates {
		sum += p.Energy[s]
	}
	return sum
}

// EnergyPerPart is kWh per good part; ok is false without energy or good
// parts.
func (p Production) EnergyPerPart() (float64, bool) {
	if !p.HasEnergy || !p.HasParts {
		return 0, false
	}
	return ratio(p.EnergyKWh(), p.Good)
}

// Losses are a period's planned busy time (PBT) cut the way an OEE
// waterfall shows it, in seconds: availability loss (PBT - APT),
// performance loss (APT - produced x ideal cycle), quality loss (scrap x
// ideal cycle) and the fully productive time (good x ideal cycle). They
// add up to PBT; the performance loss is negative when the equipment ran
// faster than its ideal cycle time says it can.
type Losses struct {
	Availability, Performance, Quality, Productive float64
}

// Add adds l2 to l.
func (l Losses) Add(l2 Losses) Losses {
	return Losses{l.Availability + l2.Availability, l.Performance + l2.Performance, l.Quality + l2.Quality, l.Productive + l2.Productive}
}

// oeeReady reports whether f's OEE figures exist: an ideal cycle time and
// a part counter.
func (f Figures) oeeReady() bool { return f.IdealCycle > 0 && f.HasParts }

// Performance is produced parts x ideal cycle time / APT; ok is false
// without an ideal cycle time, a counter or run time.
func (f Figures) Performance() (float64, bool) {
	if !f.oeeReady() {
		return 0, false
	}
	return ratio(f.Produced()*f.IdealCycle.Seconds(), f.RunSeconds())
}

// Quality is good / (good + scrap); ok is false without a counter or parts.
func (f Figures) Quality() (float64, bool) {
	if !f.HasParts {
		return 0, false
	}
	return ratio(f.Good, f.Produced())
}

// OEE is availability x performance x quality, computed as the fully
// productive time over PBT (good x ideal cycle / PBT), which is that
// product and stays defined when nothing was made (0); ok is false
// without an ideal cycle time, a counter or planned busy time.
func (f Figures) OEE() (float64, bool) {
	if !f.oeeReady() {
		return 0, false
	}
	return ratio(f.Good*f.IdealCycle.Seconds(), f.BusySeconds())
}

// Throughput is good parts per hour of APT; ok is false without a counter
// or run time.
func (f Figures) Throughput() (float64, bool) {
	if !f.HasParts {
		return 0, false
	}
	return ratio(f.Good, f.RunHours())
}

// Losses returns the loss breakdown; ok as for OEE.
func (f Figures) Losses() (Losses, bool) {
	if _, ok := f.OEE(); !ok {
		return Losses{}, false
	}
	ideal := f.IdealCycle.Seconds()
	return Losses{
		Availability: f.BusySeconds() - f.RunSeconds(),
		Performance:  f.RunSeconds() - f.Produced()*ideal,
		Quality:      f.Scrap * ideal,
		Productive:   f.Good * ideal,
	}, true
}

// OEEGroup sums the production figures of a group of equipment (a line, a
// site). Its OEE is the summed fully productive time over the summed PBT of
// the equipment with an ideal cycle time and a counter, not the product of
// the group's factors: machines with different cycle times make that
// product differ from the time lost, while the summed times weigh each
// machine by its planned busy time and keep the losses adding up.
type OEEGroup struct {
	Production
	// WithParts counts the equipment with a counter, WithOEE those with an
	// ideal cycle time too, WithEnergy those with a meter or power.
	WithParts, WithOEE, WithEnergy int
	// PartsRun is the APT of the equipment with a counter (throughput).
	PartsRun float64
	// IdealRun is the APT, IdealProduced the produced parts x ideal cycle
	// time and Losses the summed losses (PBT) of the OEE equipment.
	IdealRun, IdealProduced float64
	Losses                  Losses
	// EnergyGood is the good parts of the equipment with energy figures.
	EnergyGood float64
}

// add adds one equipment's figures.
func (g *OEEGroup) add(f Figures) {
	if f.HasParts {
		g.WithParts++
		g.HasParts = true
		g.Good += f.Good
		g.Scrap += f.Scrap
		g.HasScrap = g.HasScrap || f.HasScrap
		g.PartsRun += f.RunSeconds()
	}
	if l, ok := f.Losses(); ok {
		g.WithOEE++
		g.IdealRun += f.RunSeconds()
		g.IdealProduced += f.Produced() * f.IdealCycle.Seconds()
		g.Losses = g.Losses.Add(l)
	}
	if f.HasEnergy {
		g.WithEnergy++
		g.HasEnergy = true
		for i, v := range f.Production.Energy {
			g.Energy[i] += v
		}
		if f.HasParts {
			g.EnergyGood += f.Good
		}
	}
}

// Performance is the OEE equipment's produced x ideal over their APT.
func (g OEEGroup) Performance() (float64, bool) {
	if g.WithOEE == 0 {
		return 0, false
	}
	return ratio(g.IdealProduced, g.IdealRun)
}

// Quality is good over produced parts of the equipment with a counter.
func (g OEEGroup) Quality() (float64, bool) { return ratio(g.Good, g.Produced()) }

// OEEValue is the OEE equipment's fully productive time over their PBT.
func (g OEEGroup) OEEValue() (float64, bool) {
	if g.WithOEE == 0 {
		return 0, false
	}
	l := g.Losses
	return ratio(l.Productive, l.Availability+l.Performance+l.Quality+l.Productive)
}

// Throughput is good parts per hour of APT of the equipment with a counter.
func (g OEEGroup) Throughput() (float64, bool) {
	if g.WithParts == 0 {
		return 0, false
	}
	return ratio(g.Good, g.PartsRun/3600)
}

// EnergyPerPart is the kWh of the equipment with energy figures over their
// good parts.
func (g OEEGroup) EnergyPerPart() (float64, bool) {
	if g.WithEnergy == 0 {
		return 0, false
	}
	return ratio(g.EnergyKWh(), g.EnergyGood)
}
