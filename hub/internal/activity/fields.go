package activity

import "github.com/floorpulse/floorpulse/hub/internal/state"

// ProductionFields are an equipment's parts, OEE and energy figures by the
// names they have in InfluxDB (docs/schema.md) and the API. A figure that
// does not exist (no counter, no ideal cycle time, no energy signal, no
// time to divide by) is absent, not 0. The energy per state is given for
// every state whenever the equipment reports energy, so a rewritten point
// never keeps a stale state's value.
func ProductionFields(f Figures) map[string]float64 {
	out := map[string]float64{}
	EachProductionField(f, func(k string, v float64) { out[k] = v })
	return out
}

// EachProductionField calls put with each of ProductionFields(f), without
// building the map.
func EachProductionField(f Figures, put func(string, float64)) {
	if f.IdealCycle > 0 {
		put("ideal_cycle_seconds", f.IdealCycle.Seconds())
	}
	if f.RatedPower > 0 {
		put("rated_power_kw", f.RatedPower)
	}
	if f.HasParts {
		put("parts_good", f.Good)
		put("parts_scrap", f.Scrap)
	}
	putOK(put, "performance", f.Performance)
	putOK(put, "quality", f.Quality)
	putOK(put, "oee", f.OEE)
	putOK(put, "throughput", f.Throughput)
	if l, ok := f.Losses(); ok {
		lossFields(put, l)
	}
	energyFields(put, f.Production, f.EnergyPerPart)
}

// RollupProductionFields are ProductionFields of a line or the site.
func RollupProductionFields(r Rollup) map[string]float64 {
	out := map[string]float64{}
	EachRollupProductionField(r, func(k string, v float64) { out[k] = v })
	return out
}

// EachRollupProductionField calls put with each of RollupProductionFields(r).
func EachRollupProductionField(r Rollup, put func(string, float64)) {
	g := r.OEEGroup
	if g.WithParts > 0 {
		put("parts_good", g.Good)
		put("parts_scrap", g.Scrap)
	}
	putOK(put, "performance", g.Performance)
	putOK(put, "quality", g.Quality)
	putOK(put, "oee", g.OEEValue)
	putOK(put, "throughput", g.Throughput)
	if g.WithOEE > 0 {
		lossFields(put, g.Losses)
	}
	energyFields(put, g.Production, g.EnergyPerPart)
}

func putOK(put func(string, float64), name string, f func() (float64, bool)) {
	if v, ok := f(); ok {
		put(name, v)
	}
}

func lossFields(put func(string, float64), l Losses) {
	put("loss_availability_seconds", l.Availability)
	put("loss_performance_seconds", l.Performance)
	put("loss_quality_seconds", l.Quality)
	put("productive_seconds", l.Productive)
}

// energyStateFields are the names of the energy per state.
var energyStateFields = func() (out [state.NumStates]string) {
	for s := range state.NumStates {
		out[s] = "energy_kwh_" + s.String()
	}
	return out
}()

func energyFields(put func(string, float64), p Production, perPart func() (float64, bool)) {
	if !p.HasEnergy {
		return
	}
	put("energy_kwh", p.EnergyKWh())
	put("energy_waste_kwh", p.EnergyWasteKWh())
	for s := range state.NumStates {
		put(energyStateFields[s], p.Energy[s])
	}
	putOK(put, "energy_kwh_per_part", perPart)
}
