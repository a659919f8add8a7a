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
	if f.IdealCycle > 0 {
		out["ideal_cycle_seconds"] = f.IdealCycle.Seconds()
	}
	if f.RatedPower > 0 {
		out["rated_power_kw"] = f.RatedPower
	}
	if f.HasParts {
		out["parts_good"] = f.Good
		out["parts_scrap"] = f.Scrap
	}
	put(out, "performance", f.Performance)
	put(out, "quality", f.Quality)
	put(out, "oee", f.OEE)
	put(out, "throughput", f.Throughput)
	if l, ok := f.Losses(); ok {
		lossFields(out, l)
	}
	energyFields(out, f.Production, f.EnergyPerPart)
	return out
}

// RollupProductionFields are ProductionFields of a line or the site.
func RollupProductionFields(r Rollup) map[string]float64 {
	out := map[string]float64{}
	g := r.OEEGroup
	if g.WithParts > 0 {
		out["parts_good"] = g.Good
		out["parts_scrap"] = g.Scrap
	}
	put(out, "performance", g.Performance)
	put(out, "quality", g.Quality)
	put(out, "oee", g.OEEValue)
	put(out, "throughput", g.Throughput)
	if g.WithOEE > 0 {
		lossFields(out, g.Losses)
	}
	energyFields(out, g.Production, g.EnergyPerPart)
	return out
}

func put(out map[string]float64, name string, f func() (float64, bool)) {
	if v, ok := f(); ok {
		out[name] = v
	}
}

func lossFields(out map[string]float64, l Losses) {
	out["loss_availability_seconds"] = l.Availability
	out["loss_performance_seconds"] = l.Performance
	out["loss_quality_seconds"] = l.Quality
	out["productive_seconds"] = l.Productive
}

func energyFields(out map[string]float64, p Production, perPart func() (float64, bool)) {
	if !p.HasEnergy {
		return
	}
	out["energy_kwh"] = p.EnergyKWh()
	out["energy_waste_kwh"] = p.EnergyWasteKWh()
	for s := range state.NumStates {
		out["energy_kwh_"+s.String()] = p.Energy[s]
	}
	put(out, "energy_kwh_per_part", perPart)
}
