package api

import (
	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/state"
)

// OEEJSON is the parts and OEE figures of an equipment, line or site in a
// period (ISO 22400-2, see docs/hub.md#oee-and-energy); absent when no
// equipment reports a part counter. A factor without its denominator
// (no ideal cycle time, no run time, no parts) is absent, not 0.
type OEEJSON struct {
	// IdealCycleSeconds is the equipment's ideal cycle time per part.
	IdealCycleSeconds *float64 `json:"ideal_cycle_seconds,omitempty"`
	Good              float64  `json:"parts_good"`
	Scrap             float64  `json:"parts_scrap"`
	// Availability is APT / PBT of the equipment with OEE figures (for an
	// equipment, its availability).
	Availability *float64 `json:"availability,omitempty"`
	Performance  *float64 `json:"performance,omitempty"`
	Quality      *float64 `json:"quality,omitempty"`
	OEE          *float64 `json:"oee,omitempty"`
	// Throughput is good parts per hour of run time.
	Throughput *float64 `json:"throughput,omitempty"`
	// LossHours cuts the planned busy time as an OEE waterfall does.
	LossHours *LossJSON `json:"loss_hours,omitempty"`
}

// LossJSON is a planned busy time cut into losses and the fully productive
// time, in hours; they add up to PBT.
type LossJSON struct {
	Availability float64 `json:"availability"`
	Performance  float64 `json:"performance"`
	Quality      float64 `json:"quality"`
	Productive   float64 `json:"productive"`
}

// EnergyJSON is the energy figures; absent when no equipment reports an
// energy meter or power.
type EnergyJSON struct {
	KWh float64 `json:"kwh"`
	// KWhByState is the energy drawn in each state.
	KWhByState map[string]float64 `json:"kwh_by_state"`
	// WasteKWh is the energy drawn idle, in planned stops and outside shifts.
	WasteKWh   float64  `json:"waste_kwh"`
	PerPartKWh *float64 `json:"kwh_per_good_part,omitempty"`
	// RatedPowerKW is the equipment's rated power, when registered.
	RatedPowerKW *float64 `json:"rated_power_kw,omitempty"`
}

func opt(v float64, ok bool) *float64 {
	if !ok {
		return nil
	}
	return &v
}

func lossJSON(l activity.Losses) *LossJSON {
	return &LossJSON{Availability: l.Availability / 3600, Performance: l.Performance / 3600,
		Quality: l.Quality / 3600, Productive: l.Productive / 3600}
}

func energyJSON(p activity.Production) *EnergyJSON {
	if !p.HasEnergy {
		return nil
	}
	e := &EnergyJSON{KWh: p.EnergyKWh(), WasteKWh: p.EnergyWasteKWh(), KWhByState: map[string]float64{}}
	for s := range state.NumStates {
		e.KWhByState[s.String()] = p.Energy[s]
	}
	return e
}

// EquipmentOEE is an equipment's OEE figures (nil without a part counter).
func EquipmentOEE(f activity.Figures) *OEEJSON {
	if !f.HasParts {
		return nil
	}
	o := &OEEJSON{Good: f.Good, Scrap: f.Scrap,
		Performance: opt(f.Performance()), Quality: opt(f.Quality()), OEE: opt(f.OEE()), Throughput: opt(f.Throughput())}
	if f.IdealCycle > 0 {
		o.IdealCycleSeconds = opt(f.IdealCycle.Seconds(), true)
	}
	if l, ok := f.Losses(); ok {
		o.LossHours = lossJSON(l)
		o.Availability = opt(f.Availability())
	}
	return o
}

// EquipmentEnergy is an equipment's energy figures (nil without energy).
func EquipmentEnergy(f activity.Figures) *EnergyJSON {
	e := energyJSON(f.Production)
	if e == nil {
		return nil
	}
	e.PerPartKWh = opt(f.EnergyPerPart())
	if f.RatedPower > 0 {
		e.RatedPowerKW = opt(f.RatedPower, true)
	}
	return e
}

// RollupOEE is a line's or the site's OEE figures (nil when none of its
// equipment reports a part counter).
func RollupOEE(r activity.Rollup) *OEEJSON {
	g := r.OEEGroup
	if g.WithParts == 0 {
		return nil
	}
	o := &OEEJSON{Good: g.Good, Scrap: g.Scrap,
		Performance: opt(g.Performance()), Quality: opt(g.Quality()), OEE: opt(g.OEEValue()), Throughput: opt(g.Throughput())}
	if g.WithOEE > 0 {
		l := g.Losses
		o.LossHours = lossJSON(l)
		pbt := l.Availability + l.Performance + l.Quality + l.Productive
		if pbt > 0 {
			o.Availability = opt(1-l.Availability/pbt, true)
		}
	}
	return o
}

// RollupEnergy is a line's or the site's energy figures.
func RollupEnergy(r activity.Rollup) *EnergyJSON {
	e := energyJSON(r.Production)
	if e != nil {
		e.PerPartKWh = opt(r.EnergyPerPart())
	}
	return e
}
