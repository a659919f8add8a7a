package plant

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Names of the production signals besides count.
const (
	Scrap  = signal.Scrap  // scrap counter
	Energy = signal.Energy // energy meter, kWh
)

// Restarts: a breakdown power-cycles the machine's controller, which
// restarts its scrap counter and energy meter from 0 once they have
// counted this much (so a restart always shows as a drop), just after the
// reading taken as it stops.
const (
	scrapRestartAt  = 20
	energyRestartAt = 1000
)

// production draws a machine's production parameters from a random stream
// of its own (seeded like the machine), so the rest of its behaviour is what
// it was before machines made scrap and drew metered energy: a performance
// factor (its real cycle time per part is the ideal over it), a scrap rate,
// and, for every third machine of the plant, an energy meter.
func (m *machine) production(global int, seed int64) {
	r := rand.New(rand.NewPCG(uint64(seed), hash(m.line.cfg.Name, m.name, "production")))
	m.ideal = m.line.cfg.Ideal()
	m.perf = 0.78 + 0.18*r.Float64()
	m.scrapRate = 0.005 + 0.035*r.Float64()
	m.cycle = max(time.Duration(float64(m.ideal)/m.perf).Truncate(time.Millisecond), time.Millisecond)
	m.meter = global%3 == 0
	m.meterKWh = float64(r.IntN(900))
}

// produced is the parts made by t (good and scrap): one per real cycle of
// running time (with degradation, at the cycle time of each stretch since
// the last fold: the counter never goes back).
func (m *machine) produced(t time.Time) float64 {
	if w := m.wear; w != nil {
		parts := w.parts
		if m.runOn {
			parts += float64(t.Sub(w.from)) / (float64(m.cycle) * w.f)
		}
		return math.Floor(parts)
	}
	ms := m.runMs
	if m.runOn {
		ms += t.Sub(m.runFrom).Milliseconds()
	}
	return math.Floor(float64(ms) / float64(m.cycle.Milliseconds()))
}

// parts returns the good parts and the scrap made by t; every part made is
// good or scrap.
func (m *machine) parts(t time.Time) (good, scrap float64) {
	n := m.produced(t)
	scrap = math.Floor(n * m.scrapRate)
	return n - scrap, scrap
}

// meters returns the readings of count, scrap, power and (metered machines)
// energy at t, books the parts in the truth, makes the power published the
// draw from t on, and restarts the counters when a breakdown begins.
func (m *machine) meters(t time.Time) []Event {
	good, scrap := m.parts(t)
	m.meterKWh += m.drawKW * t.Sub(m.drawFrom).Hours()
	m.drawKW, m.drawFrom = m.power(t), t
	evs := []Event{
		m.event(t, signal.Count, signal.Number(m.base+good)),
		m.event(t, Scrap, signal.Number(scrap-m.scrapBase)),
		m.event(t, Power, signal.Number(m.drawKW)),
	}
	if m.meter {
		evs = append(evs, m.event(t, Energy, signal.Number(m.meterKWh)))
	}
	if m.acct != nil {
		m.acct.reading(t, good, scrap)
	}
	if m.eff() == Down && m.pubState != Down {
		if scrap-m.scrapBase >= scrapRestartAt {
			m.scrapBase = scrap
		}
		if m.meterKWh >= energyRestartAt {
			m.meterKWh = 0
		}
	}
	return evs
}

// StateKWh is the energy a machine drew in each state over a period, in
// kWh, with the states of StateMs. It is the integral of the power the
// machine published (each value drawn until the next), whether or not the
// machine has a meter.
type StateKWh struct {
	Running     float64 `json:"running"`
	Idle        float64 `json:"idle"`
	Setup       float64 `json:"setup"`
	Down        float64 `json:"down"`
	PlannedStop float64 `json:"planned_stop"`
	NoShift     float64 `json:"no_shift"`
}

func (s *StateKWh) add(st string, kwh float64) {
	if p := byState(st, &s.Running, &s.Idle, &s.Setup, &s.Down, &s.PlannedStop, &s.NoShift); p != nil {
		*p += kwh
	}
}

// Total is the energy drawn in every state.
func (s StateKWh) Total() float64 {
	return s.Running + s.Idle + s.Setup + s.Down + s.PlannedStop + s.NoShift
}

// ProductionTruth is a machine's parts, OEE factors and energy in a month,
// by ISO 22400-2: performance = (good + scrap) x ideal cycle time / run
// time, quality = good / (good + scrap), OEE = good x ideal cycle time /
// planned busy time (running, idle, setup and down), which is availability
// x performance x quality. Parts count in the month of the reading that
// shows them. A factor is absent when its denominator is 0.
type ProductionTruth struct {
	Good        float64  `json:"good"`
	Scrap       float64  `json:"scrap"`
	Performance *float64 `json:"performance,omitempty"`
	Quality     *float64 `json:"quality,omitempty"`
	OEE         *float64 `json:"oee,omitempty"`
	EnergyKWh   StateKWh `json:"energy_kwh"`
	// TotalKWh is the energy in every state; WasteKWh idle, in planned
	// stops and outside shifts.
	TotalKWh float64 `json:"energy_total_kwh"`
	WasteKWh float64 `json:"energy_waste_kwh"`
}

// productionTruth is the month's production truth of a machine whose
// states over the month are st.
func (m *machine) productionTruth(month string, st StateMs) *ProductionTruth {
	pt := &ProductionTruth{}
	if p := m.acct.monthParts[month]; p != nil {
		pt.Good, pt.Scrap = p[0], p[1]
	}
	if e := m.acct.monthKWh[month]; e != nil {
		pt.EnergyKWh = *e
	}
	pt.TotalKWh = pt.EnergyKWh.Total()
	pt.WasteKWh = pt.EnergyKWh.Idle + pt.EnergyKWh.PlannedStop + pt.EnergyKWh.NoShift
	ideal := float64(m.ideal.Milliseconds())
	frac := func(a, b float64) *float64 {
		if b <= 0 {
			return nil
		}
		v := a / b
		return &v
	}
	pt.Performance = frac((pt.Good+pt.Scrap)*ideal, float64(st.Running))
	pt.Quality = frac(pt.Good, pt.Good+pt.Scrap)
	pt.OEE = frac(pt.Good*ideal, float64(st.Running+st.Idle+st.Setup+st.Down))
	return pt
}
