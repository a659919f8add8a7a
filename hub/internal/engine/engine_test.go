package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

func newEngine(t *testing.T) (*Engine, *time.Location) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	reg := []activity.Equipment{
		{Key: signal.Key{Site: "s", Line: "L1", Equipment: "M1"}, Class: "cnc"},
		{Key: signal.Key{Site: "s", Line: "L1", Equipment: "M2"}, Class: "cnc"},
	}
	return New(Options{Location: loc, Registry: reg, Threshold: func(string) time.Duration { return 80 * time.Hour }}, nil), loc
}

func sig(eq, name string, v signal.Value, t time.Time) signal.Signal {
	return signal.Signal{Site: "s", Line: "L1", Equipment: eq, Name: name, Value: v, Time: t}
}

// A redelivered batch changes no state but is written out again, because its
// first delivery may have died between the state commit and the write.
func TestRedeliveryIsRewrittenNotRecounted(t *testing.T) {
	e, loc := newEngine(t)
	t0 := time.Date(2026, 10, 31, 20, 0, 0, 0, loc)
	batch := []signal.Signal{
		sig("M1", signal.Run, signal.Bool(true), t0),
		sig("M1", "power", signal.Number(3), t0.Add(8*time.Hour)),
	}
	changes, dirty := e.Apply(batch)
	if len(changes) != 1 || len(changes[0].Points) != 1 {
		t.Fatalf("first delivery: changes %+v", changes)
	}
	ems1, lms1 := e.Figures(dirty)
	changes, dirty = e.Apply(batch)
	if len(changes) != 1 || len(changes[0].Points) != 0 {
		t.Fatalf("redelivery must add no points: %+v", changes)
	}
	ems2, lms2 := e.Figures(dirty)
	if len(ems2) != 2 || len(ems1) != len(ems2) || ems1[0].RunSeconds != ems2[0].RunSeconds || ems1[1].RunSeconds != ems2[1].RunSeconds {
		t.Fatalf("figures differ on redelivery: %+v vs %+v", ems1, ems2)
	}
	if ems2[0].RunHours() != 4 || ems2[1].RunHours() != 4 {
		t.Fatalf("run split over the month end: %v h and %v h, want 4 and 4", ems2[0].RunHours(), ems2[1].RunHours())
	}
	// The line figures include the silent registered M2 in both months.
	if len(lms2) != 2 || lms2[0].Registered != 2 || len(lms1) != 2 {
		t.Fatalf("line months %+v", lms2)
	}
}

// A late signal restates the months from its time to the horizon.
func TestLateSignalRestates(t *testing.T) {
	e, loc := newEngine(t)
	t0 := time.Date(2026, 9, 30, 12, 0, 0, 0, loc)
	e.Apply([]signal.Signal{sig("M1", signal.Run, signal.Bool(false), t0), sig("M1", "power", signal.Number(1), t0.AddDate(0, 1, 5))})
	_, dirty := e.Apply([]signal.Signal{sig("M1", signal.Run, signal.Bool(true), t0.Add(time.Hour))})
	ems, _ := e.Figures(dirty)
	if len(ems) != 3 || ems[0].Month.Name() != "2026-09" || ems[1].Month.Name() != "2026-10" || ems[2].Month.Name() != "2026-11" {
		t.Fatalf("restated months: %+v", ems)
	}
	if ems[1].RunSeconds != ems[1].Month.Hours()*3600 {
		t.Fatalf("October should be all running, got %v h", ems[1].RunHours())
	}
}

// BenchmarkApply measures the engine alone: signals per second through Apply
// for 50 machines, one run change in four signals, the rest gauges, in
// batches of 1,000 as the consumer fetches them.
func BenchmarkApply(b *testing.B) {
	loc, _ := time.LoadLocation("Europe/Berlin")
	var reg []activity.Equipment
	for i := 0; i < 50; i++ {
		reg = append(reg, activity.Equipment{Key: signal.Key{Site: "s", Line: "L1", Equipment: fmt.Sprintf("M%02d", i)}})
	}
	e := New(Options{Location: loc, Registry: reg, Threshold: func(string) time.Duration { return 80 * time.Hour }}, nil)
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, loc)
	batch := make([]signal.Signal, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i += len(batch) {
		for j := range batch {
			k := reg[n%50].Key
			s := signal.Signal{Site: k.Site, Line: k.Line, Equipment: k.Equipment, Time: t0.Add(time.Duration(n) * time.Second)}
			if n%4 == 0 {
				s.Name, s.Value = signal.Run, signal.Bool(n%8 == 0)
			} else {
				s.Name, s.Value = "power", signal.Number(float64(n%100))
			}
			batch[j] = s
			n++
		}
		e.Apply(batch)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "signals/s")
}
