package engine

import (
	"reflect"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Below the floor nothing is restated: older signals are set aside, lost
// ranges start at it, pending ranges and recomputes are cut at it, and the
// figures of the periods from the floor on are those of the whole timelines.
func TestFloorRestatesNothingOlder(t *testing.T) {
	whole, loc := newEngine(t)
	trimmed, _ := newEngine(t)
	floor := time.Date(2026, 10, 1, 0, 0, 0, 0, loc)
	var batch []signal.Signal
	for h := -72; h < 72; h++ {
		at := floor.Add(time.Duration(h) * time.Hour)
		batch = append(batch, sig("M1", signal.Run, signal.Bool(h%3 != 0), at), sig("M1", "power", signal.Number(1), at.Add(30*time.Minute)))
	}
	for _, e := range []*Engine{whole, trimmed} {
		e.Apply(batch)
	}
	trimmed.SetFloor(floor.UnixNano())
	trimmed.SetFloor(floor.Add(-time.Hour).UnixNano()) // never lowered
	if n := trimmed.Trim(floor.Add(-48 * time.Hour).UnixNano()); n != 1 {
		t.Fatalf("trimmed %d timelines", n)
	}
	if first, _, _ := trimmed.Span(); !first.Equal(floor) {
		t.Fatalf("span starts at %s", first)
	}

	late := []signal.Signal{
		sig("M1", signal.Run, signal.Bool(true), floor.Add(-time.Minute)),
		{Site: "s", Line: "L1", Equipment: "M1", Gap: &signal.Gap{From: floor.Add(-2 * time.Hour), To: floor.Add(-time.Hour)}},
	}
	if changes, dirty := trimmed.Apply(late); len(dirty) != 0 || len(changes) != 1 || len(changes[0].Run) != 0 {
		t.Fatalf("signals below the floor applied: %+v %v", changes, dirty)
	}
	if got := trimmed.Stats().TooLate; got != 2 {
		t.Fatalf("too late: %d", got)
	}
	_, dirty := trimmed.Apply([]signal.Signal{{Site: "s", Line: "L1", Equipment: "M1",
		Gap: &signal.Gap{From: floor.Add(-time.Hour), To: floor.Add(time.Hour)}}})
	if r := dirty[signal.Key{Site: "s", Line: "L1", Equipment: "M1"}]; r.From != floor.UnixNano() {
		t.Fatalf("lost range over the floor marked from %s", time.Unix(0, r.From))
	}

	k := signal.Key{Site: "s", Line: "L1", Equipment: "M1"}
	all := Dirty{k: {From: floor.Add(-60 * time.Hour).UnixNano(), To: floor.Add(60 * time.Hour).UnixNano()}}
	res := trimmed.Figures(all)
	for _, f := range res.Equipment {
		if f.Period.End.Before(floor) || f.Period.End.Equal(floor) {
			t.Fatalf("a period before the floor was restated: %+v", f.Period)
		}
	}
	if len(trimmed.Periods(floor.Add(-10*24*time.Hour), floor)) != 0 {
		t.Fatal("recompute before the floor")
	}
	// The whole engine with the lost range from the floor on: every period
	// from the floor on has the same figures.
	whole.Apply([]signal.Signal{{Site: "s", Line: "L1", Equipment: "M1", Gap: &signal.Gap{From: floor, To: floor.Add(time.Hour)}}})
	want := whole.Figures(Dirty{k: {From: floor.UnixNano(), To: floor.Add(60 * time.Hour).UnixNano()}})
	got := trimmed.Figures(Dirty{k: {From: floor.UnixNano(), To: floor.Add(60 * time.Hour).UnixNano()}})
	byPeriod := func(r Result) map[string]activity.Figures {
		out := map[string]activity.Figures{}
		for _, f := range r.Equipment {
			if f.Key == k && !f.Period.Start.Before(floor) {
				out[f.Period.Kind+f.Period.Start.String()] = f
			}
		}
		return out
	}
	if w, g := byPeriod(want), byPeriod(got); len(w) == 0 || !reflect.DeepEqual(w, g) {
		t.Fatalf("figures after the floor differ:\nwhole   %+v\ntrimmed %+v", w, g)
	}
}
