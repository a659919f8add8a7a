package riskeval

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/pkg/risk"
	"github.com/floorpulse/floorpulse/simulators/internal/plant"
)

func TestScore(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	day := func(d float64) time.Time { return t0.Add(time.Duration(d * 24 * float64(time.Hour))) }
	from, end := day(5), day(5+30)
	truth := plant.Truth{Breakdowns: []plant.BreakdownTruth{
		{Line: "L1", Equipment: "M01", Start: day(20), Precursor: &plant.PrecursorInfo{Start: day(17)}},
		{Line: "L1", Equipment: "M02", Start: day(12), Precursor: &plant.PrecursorInfo{Start: day(9)}},
		{Line: "L1", Equipment: "M02", Start: day(25)},
		{Line: "L1", Equipment: "M01", Start: day(3), Precursor: &plant.PrecursorInfo{Start: day(1)}}, // learning period
	}}
	warnings := []Warning{
		{Line: "L1", Equipment: "M01", Opened: day(2)},  // learning period: not scored
		{Line: "L1", Equipment: "M01", Opened: day(10)}, // false
		{Line: "L1", Equipment: "M01", Opened: day(18)}, // warned, 2 days ahead
		{Line: "L1", Equipment: "M01", Opened: day(19)}, // a second one in the window: not false
		{Line: "L1", Equipment: "M02", Opened: day(24)}, // before a sudden breakdown: false
		{Line: "L1", Equipment: "M03", Opened: day(18)}, // another machine's window: false
	}
	r := score(Options{Machines: 4}, risk.DefaultConfig(), truth, warnings, from, end)
	if r.Degradations != 2 || r.Warned != 1 || r.Sudden != 1 || r.Warnings != 5 || r.False != 3 {
		t.Fatalf("result %+v", r)
	}
	if r.Share() != 0.5 || r.MedianLead() != 48*time.Hour || len(r.Missed) != 1 || r.Missed[0].Equipment != "M02" {
		t.Fatalf("share %v, median lead %v, missed %+v", r.Share(), r.MedianLead(), r.Missed)
	}
	if r.ByKind["shape "] != [2]int{2, 1} {
		t.Fatalf("by kind %v", r.ByKind)
	}
	if got, want := r.FalsePerMachineMonth(), 3/(4*30/(365.2425/12)); math.Abs(got-want) > 1e-9 {
		t.Fatalf("false per machine-month %v, want %v", got, want)
	}
}

// A small plant: the evaluation finds degradations, warns about some, and
// gives the same result for the same seed.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates a plant for six weeks")
	}
	o := Options{Machines: 10, Months: 1, Learn: 14 * 24 * time.Hour, Seed: 9, Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Risks: []risk.Config{risk.DefaultConfig(), {Threshold: 1e9, Hold: time.Hour, MicroStopMax: 2 * time.Minute}}}
	a, err := Run(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 2 || a[0].Degradations == 0 || a[0].Warned == 0 {
		t.Fatalf("results %+v", a)
	}
	if a[1].Warnings != 0 || a[1].Degradations != a[0].Degradations {
		t.Fatalf("an unreachable threshold warned: %+v", a[1])
	}
	b, err := Run(o)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave another result")
	}
}
