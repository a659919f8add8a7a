package plant

import (
	"math"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// The production truth is what the events show: over the whole run, the
// good parts are the count's rise, the scrap the scrap counter's rises
// (its value after a restart), the energy the integral of the published
// power, and on metered machines the meter's rises; parts are made slower
// than ideal and some are scrap; counters and meters restart.
func TestProductionTruthMatchesEvents(t *testing.T) {
	c := testConfig()
	start := time.Date(2026, 9, 20, 0, 0, 0, 0, time.UTC)
	live := start.Add(40 * 24 * time.Hour)
	end := live.Add(2 * time.Hour)
	evs, tr := collect(t, c, start, live, end)
	type acc struct {
		first, last map[string]float64
		rises       map[string]float64
		restarts    map[string]int
		kw          float64
		kwFrom      time.Time
		kwh         float64
		seenKW      bool
	}
	per := map[string]*acc{}
	for _, e := range evs {
		k := e.Line + "/" + e.Equipment
		a := per[k]
		if a == nil {
			a = &acc{first: map[string]float64{}, last: map[string]float64{}, rises: map[string]float64{}, restarts: map[string]int{}}
			per[k] = a
		}
		if e.Value.Kind != signal.KindNumber {
			continue
		}
		v := e.Value.Num
		switch e.Name {
		case signal.Count, Scrap, Energy:
			if prev, ok := a.last[e.Name]; ok {
				if v < prev {
					a.rises[e.Name] += v
					a.restarts[e.Name]++
				} else {
					a.rises[e.Name] += v - prev
				}
			}
			a.last[e.Name] = v
		case Power:
			if a.seenKW {
				a.kwh += a.kw * e.Time.Sub(a.kwFrom).Hours()
			}
			a.kw, a.kwFrom, a.seenKW = v, e.Time, true
		}
	}
	restarts := map[string]int{}
	metered := 0
	for _, e := range tr.Equipment {
		k := e.Line + "/" + e.Equipment
		a := per[k]
		var good, scrap, kwh float64
		for mo, m := range e.Months {
			p := m.Production
			if p == nil {
				t.Fatalf("%s %s: no production truth", k, mo)
			}
			good += p.Good
			scrap += p.Scrap
			kwh += p.TotalKWh
			if m.States.Running > int64(50*time.Hour/time.Millisecond) {
				if p.Performance == nil || *p.Performance >= 1 || *p.Performance < 0.7 {
					t.Errorf("%s %s: performance %v, want in [0.7, 1)", k, mo, p.Performance)
				}
				if p.Quality == nil || *p.Quality >= 1 || *p.Quality < 0.95 || p.OEE == nil || *p.OEE <= 0 {
					t.Errorf("%s %s: quality %v, OEE %v", k, mo, p.Quality, p.OEE)
				}
			}
			if math.Abs(p.TotalKWh-p.EnergyKWh.Total()) > 1e-9 {
				t.Errorf("%s %s: total %v != sum of states", k, mo, p.TotalKWh)
			}
		}
		if good != a.rises[signal.Count] || scrap != a.rises[Scrap] {
			t.Errorf("%s: truth good %v scrap %v, events show %v and %v", k, good, scrap, a.rises[signal.Count], a.rises[Scrap])
		}
		if math.Abs(kwh-a.kwh) > 1e-6*a.kwh || a.kwh == 0 {
			t.Errorf("%s: truth %v kWh, the published power integrates to %v", k, kwh, a.kwh)
		}
		if e.EnergyMeter {
			metered++
			if math.Abs(kwh-a.rises[Energy]) > 1e-6*kwh {
				t.Errorf("%s: truth %v kWh, the meter rose %v", k, kwh, a.rises[Energy])
			}
		} else if _, ok := a.last[Energy]; ok {
			t.Errorf("%s has no meter but published energy", k)
		}
		for n, r := range a.restarts {
			restarts[n] += r
		}
		if e.IdealCycleMs != c.Lines[map[string]int{"L1": 0, "L2": 1, "L3": 2}[e.Line]].Ideal().Milliseconds() {
			t.Errorf("%s: ideal cycle %d ms", k, e.IdealCycleMs)
		}
	}
	if metered == 0 || metered == len(tr.Equipment) || restarts[Scrap] == 0 || restarts[Energy] == 0 || restarts[signal.Count] != 0 {
		t.Fatalf("want some metered machines (%d of %d) and restarts of scrap and energy, never of count: %v", metered, len(tr.Equipment), restarts)
	}
}
