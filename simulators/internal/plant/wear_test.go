package plant

import (
	"reflect"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// degraded runs testConfig with degradation for 60 days of history.
func degraded(t *testing.T, seed int64) ([]Event, Truth) {
	t.Helper()
	c := testConfig()
	c.Seed = seed
	c.Degradation = &Degradation{MeanInterval: 240 * time.Hour}
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(60 * 24 * time.Hour)
	return collect(t, c, start, end, end)
}

func TestDegradationTruth(t *testing.T) {
	evs, truth := degraded(t, 7)
	// Counters never go back and both gauges are published.
	counts := map[string]float64{}
	gauges := map[string]int{}
	down := map[string][]Event{}
	for _, e := range evs {
		k := e.Line + "/" + e.Equipment
		switch e.Name {
		case signal.Count:
			if e.Value.Num < counts[k] {
				t.Fatalf("%s count went back from %v to %v at %v", k, counts[k], e.Value.Num, e.Time)
			}
			counts[k] = e.Value.Num
		case Temperature, Vibration:
			gauges[k+" "+e.Name]++
		case signal.State:
			down[k] = append(down[k], e)
		}
	}
	if len(gauges) != 2*9 {
		t.Fatalf("gauges published by %d machine-gauges, want 18", len(gauges))
	}
	var warned, sudden int
	shapes, sigs, leads := map[string]bool{}, map[string]bool{}, map[time.Duration]bool{}
	for _, b := range truth.Breakdowns {
		// The machine reports down when the breakdown begins.
		found := false
		for _, e := range down[b.Line+"/"+b.Equipment] {
			if e.Time.Equal(b.Start) && e.Value.Str == Down {
				found = true
			}
		}
		if !found {
			t.Errorf("breakdown of %s/%s at %v: no state down then", b.Line, b.Equipment, b.Start)
		}
		if b.Precursor == nil {
			sudden++
			continue
		}
		warned++
		p := b.Precursor
		lead := b.Start.Sub(p.Start)
		if lead < 24*time.Hour || len(p.Signals) == 0 {
			t.Errorf("precursor %+v of the breakdown at %v: lead %s, want at least 24h and a signal", p, b.Start, lead)
		}
		shapes[p.Shape] = true
		leads[lead.Truncate(time.Hour)] = true
		for _, s := range p.Signals {
			sigs[s.Signal] = true
		}
	}
	if warned < 10 || sudden < 10 {
		t.Fatalf("%d breakdowns with a precursor and %d sudden, want at least 10 of each", warned, sudden)
	}
	if len(shapes) != 3 || len(sigs) != 4 || len(leads) < warned/2 {
		t.Fatalf("precursors do not vary: shapes %v, signals %v, %d distinct leads of %d", shapes, sigs, len(leads), warned)
	}
}

func TestDegradationSeeded(t *testing.T) {
	_, a := degraded(t, 7)
	_, b := degraded(t, 7)
	_, c := degraded(t, 8)
	if !reflect.DeepEqual(a.Breakdowns, b.Breakdowns) {
		t.Fatal("same seed gave other breakdowns")
	}
	if reflect.DeepEqual(a.Breakdowns, c.Breakdowns) {
		t.Fatal("another seed gave the same breakdowns")
	}
}

func TestNoDegradationNoGauges(t *testing.T) {
	c := testConfig()
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	evs, truth := collect(t, c, start, start, start.Add(72*time.Hour))
	for _, e := range evs {
		if e.Name == Temperature || e.Name == Vibration {
			t.Fatalf("gauge %s published without degradation", e.Name)
		}
	}
	if truth.Breakdowns != nil {
		t.Fatalf("breakdowns in the truth without degradation: %v", truth.Breakdowns)
	}
}
