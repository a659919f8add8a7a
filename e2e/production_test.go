package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/influxdb-client-go/v2/api"
)

// productionTruth is the part of the ground truth about parts, OEE and
// energy.
type productionTruth struct {
	Equipment []struct {
		Line         string `json:"line"`
		Equipment    string `json:"equipment"`
		IdealCycleMs int64  `json:"ideal_cycle_ms"`
		EnergyMeter  bool   `json:"energy_meter"`
		Months       map[string]struct {
			States     map[string]int64 `json:"states"`
			Production struct {
				Good        float64            `json:"good"`
				Scrap       float64            `json:"scrap"`
				Performance *float64           `json:"performance"`
				Quality     *float64           `json:"quality"`
				OEE         *float64           `json:"oee"`
				EnergyKWh   map[string]float64 `json:"energy_kwh"`
				TotalKWh    float64            `json:"energy_total_kwh"`
				WasteKWh    float64            `json:"energy_waste_kwh"`
			} `json:"production"`
		} `json:"months"`
	} `json:"equipment"`
}

// Tolerances of the comparison. Parts are whole counts read as the hub
// reads them, so they must be equal; the factors are ratios of equal times
// and counts, equal but for floating point. The energy of a machine
// without a meter is its published power integrated, as the hub does, so
// equal too. A metered machine's month differs from the energy drawn in it
// by at most what it drew between the last reading before each month
// boundary and the boundary (the hub places a reading's energy at the
// reading): readings come at least every sample interval, so at most
// twice the machine's highest draw (45 kW x 1.08) for that long.
const (
	factorTolerance = 1e-9
	kwhTolerance    = 1e-6
	maxKW           = 45 * 1.08
)

// compareProduction waits until the hub's monthly parts, OEE factors and
// energy in InfluxDB (equipment_activity and line_activity) equal the
// truth, and returns how many machine-months it compared.
func compareProduction(t *testing.T, truthPath string, q api.QueryAPI, loc *time.Location, sample time.Duration, alive func() bool) int {
	t.Helper()
	var tr productionTruth
	b, err := os.ReadFile(truthPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatal(err)
	}
	meterTolerance := 2 * maxKW * sample.Hours()
	type lineSum struct{ good, scrap, productive, busy float64 }
	var problems []string
	metered, withScrap, n := 0, 0, 0
	deadline := time.Now().Add(2 * time.Minute)
	for {
		problems = problems[:0]
		got, lines, err := readProduction(q, loc)
		if err != nil {
			problems = append(problems, err.Error())
		}
		sums := map[[2]string]*lineSum{}
		n = 0
		for _, e := range tr.Equipment {
			ideal := float64(e.IdealCycleMs) / 1000
			for month, m := range e.Months {
				n++
				p := m.Production
				g := got[em{e.Line, e.Equipment, month}]
				name := fmt.Sprintf("%s/%s %s", e.Line, e.Equipment, month)
				check := func(field string, want, tol float64) {
					v, ok := g[field]
					if !ok || math.Abs(v-want) > tol*math.Max(1, math.Abs(want)) {
						problems = append(problems, fmt.Sprintf("%s: %s %v (present %v), want %v", name, field, v, ok, want))
					}
				}
				check("parts_good", p.Good, 0)
				check("parts_scrap", p.Scrap, 0)
				check("ideal_cycle_seconds", ideal, 0)
				for field, want := range map[string]*float64{"performance": p.Performance, "quality": p.Quality, "oee": p.OEE} {
					if want == nil {
						if v, ok := g[field]; ok {
							problems = append(problems, fmt.Sprintf("%s: %s %v, want none", name, field, v))
						}
						continue
					}
					check(field, *want, factorTolerance)
				}
				if e.EnergyMeter {
					if v, ok := g["energy_kwh"]; !ok || math.Abs(v-p.TotalKWh) > meterTolerance {
						problems = append(problems, fmt.Sprintf("%s (metered): energy_kwh %v (present %v), want %v within %.1f", name, v, ok, p.TotalKWh, meterTolerance))
					}
				} else {
					check("energy_kwh", p.TotalKWh, kwhTolerance)
					check("energy_waste_kwh", p.WasteKWh, kwhTolerance)
					for st, want := range p.EnergyKWh {
						check("energy_kwh_"+st, want, kwhTolerance)
					}
				}
				k := [2]string{e.Line, month}
				s := sums[k]
				if s == nil {
					s = &lineSum{}
					sums[k] = s
				}
				s.good += p.Good
				s.scrap += p.Scrap
				s.productive += p.Good * ideal
				s.busy += float64(m.States["running_ms"]+m.States["idle_ms"]+m.States["setup_ms"]+m.States["down_ms"]) / 1000
				if e.EnergyMeter {
					metered++
				}
				if p.Scrap > 0 {
					withScrap++
				}
			}
		}
		for k, s := range sums {
			g := lines[k]
			name := fmt.Sprintf("line %s %s", k[0], k[1])
			if g["parts_good"] != s.good || g["parts_scrap"] != s.scrap {
				problems = append(problems, fmt.Sprintf("%s: parts %v + %v scrap, want %v + %v", name, g["parts_good"], g["parts_scrap"], s.good, s.scrap))
			}
			if s.busy > 0 {
				if v, ok := g["oee"]; !ok || math.Abs(v-s.productive/s.busy) > factorTolerance {
					problems = append(problems, fmt.Sprintf("%s: oee %v (present %v), want %v", name, v, ok, s.productive/s.busy))
				}
			}
		}
		if len(problems) == 0 {
			break
		}
		if time.Now().After(deadline) || !alive() {
			sort.Strings(problems)
			if len(problems) > 30 {
				problems = append(problems[:30], fmt.Sprintf("... and %d more", len(problems)-30))
			}
			t.Fatalf("parts, OEE and energy in InfluxDB differ from the ground truth:\n%s", strings.Join(problems, "\n"))
		}
		time.Sleep(time.Second)
	}
	if metered == 0 || withScrap < n/2 {
		t.Fatalf("ground truth too thin for OEE and energy: %d metered and %d with scrap of %d machine-months", metered, withScrap, n)
	}
	return n
}

// readProduction reads the monthly production fields of equipment_activity
// and line_activity.
func readProduction(q api.QueryAPI, loc *time.Location) (map[em]map[string]float64, map[[2]string]map[string]float64, error) {
	eq, lines := map[em]map[string]float64{}, map[[2]string]map[string]float64{}
	res, err := q.Query(context.Background(), `from(bucket:"floorpulse/autogen")
		|> range(start: 2020-01-01T00:00:00Z, stop: 2100-01-01T00:00:00Z)
		|> filter(fn: (r) => (r._measurement == "equipment_activity" or r._measurement == "line_activity") and r.period == "month")
		|> filter(fn: (r) => r._field =~ /^(parts_|performance$|quality$|oee$|ideal_cycle_seconds$|energy_)/)`)
	if err != nil {
		return nil, nil, fmt.Errorf("flux query: %w", err)
	}
	defer res.Close()
	for res.Next() {
		r := res.Record()
		v, ok := r.Value().(float64)
		if !ok {
			continue
		}
		month := r.Time().In(loc).Format("2006-01")
		line, _ := r.ValueByKey("line").(string)
		var m map[string]float64
		if r.Measurement() == "line_activity" {
			k := [2]string{line, month}
			if m = lines[k]; m == nil {
				m = map[string]float64{}
				lines[k] = m
			}
		} else {
			e, _ := r.ValueByKey("equipment").(string)
			k := em{line, e, month}
			if m = eq[k]; m == nil {
				m = map[string]float64{}
				eq[k] = m
			}
		}
		m[r.Field()] = v
	}
	return eq, lines, res.Err()
}
