package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/hub/internal/store"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// energyPlant is a line of three machines on two shifts with a half-hour
// break, in Berlin, and its signals for three days (over the change from
// summer time): states every 7 to 50 minutes, power every 5 minutes with
// one in ten observations up to 40 minutes late, two silences.
func energyPlant(t *testing.T) (Options, [][]signal.Signal) {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	cal := &calendar.Calendar{Loc: loc,
		Shifts: []calendar.Recurring{{Name: "early", Start: 6 * 60, End: 14 * 60, Days: 0x7f}, {Name: "late", Start: 14 * 60, End: 22 * 60, Days: 0x7f}},
		Stops:  []calendar.Recurring{{Name: "break", Start: 12 * 60, End: 12*60 + 30, Days: 0x7f}}}
	opts := Options{Location: loc, Threshold: func(string) time.Duration { return 80 * time.Hour }, Timeout: 30 * time.Minute,
		StateCodes: map[string]state.State{"1": state.Running, "2": state.Idle, "3": state.Down},
		Calendar:   func(string, string) *calendar.Calendar { return cal }}
	rng := rand.New(rand.NewPCG(3, 4))
	from := time.Date(2026, 10, 24, 0, 0, 0, 0, loc)
	var batches [][]signal.Signal
	for m := 0; m < 3; m++ {
		eq := fmt.Sprintf("M%d", m)
		opts.Registry = append(opts.Registry, activity.Equipment{Key: signal.Key{Site: "s", Line: "L1", Equipment: eq}, Class: "cnc", Registered: true})
		var all []signal.Signal
		next := from
		for ts := from; ts.Before(from.Add(72 * time.Hour)); ts = ts.Add(5 * time.Minute) {
			if d := ts.Sub(from); d > 30*time.Hour && d < 32*time.Hour || d > 50*time.Hour+10*time.Minute && d < 50*time.Hour+50*time.Minute {
				continue // silent: unknown from 30 minutes after the last word
			}
			for ; next.Before(ts.Add(5 * time.Minute)); next = next.Add(time.Duration(7*60+rng.IntN(43*60)) * time.Second) {
				all = append(all, sig(eq, signal.State, signal.Number(float64(1+rng.IntN(3))), next))
			}
			all = append(all, sig(eq, signal.Power, signal.Number(rng.Float64()*50), ts.Add(time.Duration(rng.IntN(60))*time.Second)))
		}
		// One in ten power observations comes up to 40 minutes late.
		for i := range all {
			if all[i].Name == signal.Power && rng.IntN(10) == 0 {
				j := min(len(all)-1, i+rng.IntN(8))
				all[i], all[j] = all[j], all[i]
			}
		}
		for i := 0; len(all) > 0; i++ {
			n := min(len(all), 40)
			if i >= len(batches) {
				batches = append(batches, nil)
			}
			batches[i] = append(batches[i], all[:n]...)
			all = all[n:]
		}
	}
	return opts, batches
}

// energyFigures are the energy fields of every equipment, line and site for
// every hour, shift and day of the plant's three days.
func energyFigures(t *testing.T, e *Engine) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	from := time.Date(2026, 10, 24, 0, 0, 0, 0, e.opts.Location)
	for _, p := range e.Periods(from, from.Add(75*time.Hour)) {
		r := e.PeriodFigures(p)
		for _, f := range r.Equipment {
			for k, v := range activity.ProductionFields(f) {
				out[f.Key.Equipment+" "+p.Name()+" "+k] = v
			}
		}
		for _, ru := range r.Rollups {
			for k, v := range activity.RollupProductionFields(ru) {
				out["line:"+ru.Line+" "+p.Name()+" "+k] = v
			}
		}
	}
	return out
}

func sameEnergy(t *testing.T, got, want map[string]float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d energy figures, want %d", len(got), len(want))
	}
	bad := 0
	for k, w := range want {
		if g, ok := got[k]; !ok || math.Abs(g-w) > 1e-9*math.Max(1, math.Abs(w)) {
			if bad++; bad <= 10 {
				t.Errorf("%s = %v, want %v", k, g, w)
			}
		}
	}
}

// Power folded into energy pieces as it comes (an hour behind each
// machine's latest observation) gives the energy per state of every hour,
// shift, day, line and the site that every observation kept gives, with
// late observations within the hour placed; what the store keeps is the
// pieces and the last hour of observations, and a hub restarted from it
// computes the same.
func TestFoldedPowerKeepsEnergy(t *testing.T) {
	opts, batches := energyPlant(t)
	keepAll := opts
	keepAll.MaxLateness = 1000 * time.Hour // the window: nothing folds in three days
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	folded, ref := New(opts, nil), New(keepAll, nil)
	for _, b := range batches {
		c, d := folded.Apply(b)
		if err := db.Save(c, d); err != nil {
			t.Fatal(err)
		}
		ref.Apply(b)
	}
	if s := folded.Stats(); s.TooLate != 0 {
		t.Fatalf("%d signals set aside as too late", s.TooLate)
	}
	want := energyFigures(t, ref)
	if len(want) == 0 {
		t.Fatal("no energy figures")
	}
	sameEnergy(t, energyFigures(t, folded), want)
	saved, err := db.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for k, sv := range saved {
		if len(sv.Power) > 14 || len(sv.Pieces) == 0 {
			t.Errorf("%s: %d power observations and %d pieces stored, want at most 14 and some", k, len(sv.Power), len(sv.Pieces))
		}
	}
	restarted := New(opts, saved)
	if c := restarted.Compacted(); len(c) != 0 {
		t.Errorf("a folded store folded again: %d changes", len(c))
	}
	sameEnergy(t, energyFigures(t, restarted), want)
}

// A power observation older than what a machine keeps (folded already) is
// set aside and counted as too late; it changes no figure.
func TestPowerOlderThanTheWindowIsSetAside(t *testing.T) {
	opts, batches := energyPlant(t)
	e := New(opts, nil)
	for _, b := range batches {
		e.Apply(b)
	}
	before := energyFigures(t, e)
	late := sig("M0", signal.Power, signal.Number(1000), time.Date(2026, 10, 25, 9, 2, 0, 0, opts.Location))
	_, dirty := e.Apply([]signal.Signal{late})
	if s := e.Stats(); s.TooLate != 1 || len(dirty) != 0 {
		t.Fatalf("too late %d, dirty %v; want 1 and none", s.TooLate, dirty)
	}
	sameEnergy(t, energyFigures(t, e), before)
}

// A state store written before power was folded (every observation kept)
// opens as it is; the engine folds its power at the start and the hub
// saves that, after which the store holds pieces and the figures are the
// same.
func TestStoreWithEveryPowerObservationIsFoldedAtStart(t *testing.T) {
	opts, batches := energyPlant(t)
	keepAll := opts
	keepAll.MaxLateness = 1000 * time.Hour
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	old := New(keepAll, nil) // writes every observation, as before
	for _, b := range batches {
		c, d := old.Apply(b)
		if err := db.Save(c, d); err != nil {
			t.Fatal(err)
		}
	}
	want := energyFigures(t, old)
	db.Close()

	db, err = store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	saved, err := db.Load()
	if err != nil {
		t.Fatal(err)
	}
	for k, sv := range saved {
		if len(sv.Power) < 700 || len(sv.Pieces) != 0 {
			t.Fatalf("%s: the old store holds %d power observations and %d pieces", k, len(sv.Power), len(sv.Pieces))
		}
	}
	e := New(opts, saved)
	sameEnergy(t, energyFigures(t, e), want)
	c := e.Compacted()
	if len(c) != len(saved) {
		t.Fatalf("%d changes folding the stored power, want %d", len(c), len(saved))
	}
	if err := db.Save(c, nil); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db, err = store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if saved, err = db.Load(); err != nil {
		t.Fatal(err)
	}
	for k, sv := range saved {
		if len(sv.Power) > 14 || len(sv.Pieces) == 0 {
			t.Errorf("%s: %d power observations and %d pieces after folding", k, len(sv.Power), len(sv.Pieces))
		}
	}
	sameEnergy(t, energyFigures(t, New(opts, saved)), want)
}
