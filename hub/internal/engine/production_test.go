package engine

import (
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/store"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Scrap, power and energy observations are kept with the timeline: late
// ones restate the periods they change, and a hub restarted from its state
// store computes the same parts, OEE and energy.
func TestProductionRestatesAndSurvivesRestart(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	k := signal.Key{Site: "s", Line: "L1", Equipment: "M1"}
	opts := Options{Location: loc, Threshold: func(string) time.Duration { return 80 * time.Hour },
		Registry: []activity.Equipment{{Key: k, Class: "cnc", Registered: true, IdealCycle: time.Minute, RatedPower: 20}}}
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := New(opts, nil)
	apply := func(sigs ...signal.Signal) Result {
		t.Helper()
		changes, dirty := e.Apply(sigs)
		if err := db.Save(changes, nil); err != nil {
			t.Fatal(err)
		}
		return e.Figures(dirty)
	}
	day := func(r Result) activity.Figures {
		t.Helper()
		for _, f := range r.Equipment {
			if f.Period.Kind == activity.Day && f.Period.Start.Day() == 5 {
				return f
			}
		}
		t.Fatalf("no figures for 10-05 in %d", len(r.Equipment))
		return activity.Figures{}
	}
	at := func(h, m int) time.Time { return time.Date(2026, 10, 5, h, m, 0, 0, loc) }
	num := func(name string, v float64, t time.Time) signal.Signal { return sig("M1", name, signal.Number(v), t) }
	f := day(apply(
		sig("M1", signal.Run, signal.Bool(true), at(6, 0)), num(signal.Count, 0, at(6, 0)), num(signal.Scrap, 0, at(6, 0)),
		num(signal.Power, 10, at(6, 0)), num(signal.Energy, 100, at(6, 0)),
		num(signal.Count, 50, at(7, 0)), num(signal.Scrap, 3, at(7, 0)), num(signal.Energy, 110, at(7, 0)),
		sig("M1", signal.Run, signal.Bool(false), at(8, 0)), num(signal.Count, 90, at(8, 0)), num(signal.Scrap, 5, at(8, 0)),
		num(signal.Power, 2, at(8, 0)), num(signal.Energy, 120, at(8, 0)),
		num(signal.Power, 2, at(10, 0)), num(signal.Energy, 124, at(10, 0)),
	))
	oee, _ := f.OEE()
	if f.Good != 90 || f.Scrap != 5 || f.EnergyKWh() != 24 || f.Production.Energy[2] != 4 || oee != 90*60.0/(4*3600) {
		t.Fatalf("day figures: good %v scrap %v kWh %v %v oee %v", f.Good, f.Scrap, f.EnergyKWh(), f.Production.Energy, oee)
	}
	// Late: a scrap counter restart at 07:30 and a meter reading at 09:00.
	f = day(apply(num(signal.Scrap, 1, at(7, 30)), num(signal.Energy, 121, at(9, 0))))
	if f.Scrap != 3+1+4 || f.EnergyKWh() != 24 {
		t.Fatalf("after late data: scrap %v (want 8), kWh %v", f.Scrap, f.EnergyKWh())
	}
	if q, _ := f.Quality(); q != 90.0/98 {
		t.Fatalf("quality %v", q)
	}
	saved, err := db.Load()
	if err != nil {
		t.Fatal(err)
	}
	p := activity.DayOf(at(12, 0), loc)
	want := e.compute(k, nil, p)
	if got := New(opts, saved).compute(k, nil, p); !reflect.DeepEqual(got, want) {
		t.Fatalf("after a restart:\n got %+v\nwant %+v", got, want)
	}
}
