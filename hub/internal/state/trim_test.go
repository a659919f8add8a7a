package state

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"
)

const (
	minute = int64(60e9)
	hour   = 60 * minute
	day    = 24 * hour
)

// month builds a month of one machine's observations: state and run
// changes every 20-60 min, a counter every 5 min while running, alarms,
// operators per shift (sets, logins and logouts), silences longer than the
// timeout and lost ranges.
func month(seed int64) *Timeline {
	rng := rand.New(rand.NewSource(seed))
	tl := &Timeline{Timeout: 30 * minute}
	end := 30 * day
	count, scrap, kwh := 0.0, 0.0, 0.0
	running := false
	for t := int64(0); t < end; {
		tl.Observe(t)
		tl.SetSeries(SeriesPower, t, float64(rng.Intn(40)))
		switch rng.Intn(6) {
		case 0, 1, 2:
			running = !running
			tl.SetRun(t, map[bool]int8{true: True, false: False}[running])
		case 3:
			tl.SetState(t, State(1+rng.Intn(5)))
		case 4:
			tl.SetAlarm(t, int8(rng.Intn(3))-1, []string{"E1", "E2", ""}[rng.Intn(3)])
		case 5:
			tl.SetRun(t, Bad)
		}
		step := 20*minute + rng.Int63n(40*minute)
		for g := int64(5 * minute); g < step && running; g += 5 * minute {
			if rng.Intn(4) > 0 {
				count++
			}
			tl.Observe(t + g)
			tl.SetCount(t+g, count)
			if rng.Intn(3) == 0 {
				scrap++
				tl.SetSeries(SeriesScrap, t+g, scrap)
			}
			if rng.Intn(50) == 0 {
				kwh = 0 // the meter restarts
			}
			kwh += rng.Float64() * 3
			tl.SetSeries(SeriesEnergy, t+g, kwh)
		}
		if rng.Intn(30) == 0 {
			step += 2 * hour // a silence beyond the timeout
		}
		if rng.Intn(40) == 0 {
			tl.AddGap(Interval{t + minute, t + minute + rng.Int63n(3*hour)})
		}
		t += step
	}
	ops := []string{"ann", "bob", "cy", "dee"}
	for s := int64(0); s < end; s += 8 * hour {
		switch rng.Intn(3) {
		case 0:
			tl.AddOp(OpEvent{T: s, Kind: OpSet, Op: NormalizeOps(ops[rng.Intn(4)] + "," + ops[rng.Intn(4)])})
		case 1:
			tl.AddOp(OpEvent{T: s, Kind: OpLogin, Op: ops[rng.Intn(4)]})
			tl.AddOp(OpEvent{T: s + 3*hour, Kind: OpLogout, Op: ops[rng.Intn(4)]})
		case 2:
			tl.AddOp(OpEvent{T: s, Kind: OpSet, Op: ""})
		}
	}
	return tl
}

// view is everything the figures read of a timeline over [a, b).
type view struct {
	Steps     []Seg
	Unknown   []Interval
	Ops       []OpSeg
	Increases []int64
	IdleRun   int64
	Alarms    []AlarmSeg
	Scrap     []Count
	Energy    []Count
	Power     []Count
}

func viewOf(tl *Timeline, a, b int64) view {
	idle, _ := tl.IdleRunning(a, b, 10*minute)
	return view{tl.Steps(a, b, nil), tl.Unknown(a, b), tl.OpSegments(a, b), tl.Increases(a, b), idle, tl.AlarmSegments(a, b),
		CounterIncreases(tl.SeriesOf(SeriesScrap), a, b), CounterIncreases(tl.SeriesOf(SeriesEnergy), a, b), HeldIn(tl.SeriesOf(SeriesPower), a, b)}
}

// A trimmed timeline says the same as the whole one about every hour and
// day from the cut on (idle running looks back its threshold, so from
// there), and stays so when data after the cut arrives; its stored form
// restores to the same timeline.
func TestTrimKeepsEveryPeriodAfterTheCut(t *testing.T) {
	for seed := int64(1); seed <= 5; seed++ {
		whole := month(seed)
		for _, before := range []int64{-day, 0, 3*day + 17*minute, 10 * day, 10*day + 7*hour, 29*day + 23*hour, 45 * day} {
			t.Run(fmt.Sprintf("seed%d/cut%d", seed, before/minute), func(t *testing.T) {
				tl := Restore(whole.Timeout, whole.Save())
				cut, _ := tl.Trim(before)
				if cut > before {
					t.Fatalf("cut %d after %d", cut, before)
				}
				compare := func(what string, a, b *Timeline) {
					t.Helper()
					from := before + 10*minute
					for _, p := range [][2]int64{{from, from + hour}, {from, from + day}, {from + 5*hour, from + 6*hour}, {from, 40 * day}} {
						if g, w := viewOf(a, p[0], p[1]), viewOf(b, p[0], p[1]); !reflect.DeepEqual(g, w) {
							t.Fatalf("%s [%d, %d):\ntrimmed %+v\nwhole   %+v", what, p[0], p[1], g, w)
						}
					}
					for h := max(before, 0); h < 31*day; h += hour {
						g, w := viewOf(a, h, h+hour), viewOf(b, h, h+hour)
						if !reflect.DeepEqual(g.Steps, w.Steps) || !reflect.DeepEqual(g.Ops, w.Ops) || !reflect.DeepEqual(g.Power, w.Power) || !reflect.DeepEqual(g.Energy, w.Energy) {
							t.Fatalf("%s hour %d:\ntrimmed %+v\nwhole   %+v", what, h/hour, g, w)
						}
					}
				}
				compare("trimmed", tl, whole)
				if again := Restore(tl.Timeout, tl.Save()); !reflect.DeepEqual(again.Save(), tl.Save()) {
					t.Fatal("the trimmed timeline does not restore to itself")
				}
				if _, changed := tl.Trim(before); changed {
					t.Fatal("trimming twice changed the timeline again")
				}
				// Data after the cut lands the same on both.
				w2 := Restore(whole.Timeout, whole.Save())
				for _, x := range []*Timeline{tl, w2} {
					for _, at := range []int64{before + hour, before + 2*day, 31 * day} {
						if at < cut {
							continue
						}
						x.Observe(at)
						x.SetRun(at, True)
						x.AddOp(OpEvent{T: at, Kind: OpLogout, Op: "ann"})
					}
				}
				compare("after later data", tl, w2)
				if f, _, _ := tl.Span(); f < cut {
					t.Fatalf("span starts at %d, before the cut %d", f, cut)
				}
			})
		}
	}
}

func TestTrimRules(t *testing.T) {
	tl := &Timeline{Timeout: 10}
	for _, p := range []Point{{0, True}, {5, False}, {20, True}} {
		tl.Observe(p.T)
		tl.SetRun(p.T, p.V)
	}
	tl.Observe(100) // silence 20..100
	tl.SetCount(0, 1)
	tl.SetCount(5, 2)
	tl.AddOp(OpEvent{T: 0, Kind: OpSet, Op: "a,b"})
	tl.AddOp(OpEvent{T: 5, Kind: OpLogout, Op: "a"})
	tl.AddGap(Interval{1, 3})
	tl.AddGap(Interval{2, 40})
	cut, changed := tl.Trim(10)
	if cut != 10 || !changed {
		t.Fatalf("cut %d, changed %t", cut, changed)
	}
	got := tl.Save()
	want := Saved{First: 10, Horizon: 100,
		Run:      []Point{{10, False}, {20, True}},
		Count:    []Count{{10, 2}},
		Ops:      []OpEvent{{T: 10, Kind: OpSet, Op: "b"}},
		Silences: []Interval{{5, 20}, {20, 100}}, // kept whole: it reaches past the cut
		Gaps:     []Interval{{10, 40}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	// A timeline whose data ends before the cut is cut at its horizon.
	cut, _ = tl.Trim(500)
	if got := tl.Save(); cut != 100 || got.First != 100 || len(got.Silences) != 0 || !reflect.DeepEqual(got.Run, []Point{{100, True}}) {
		t.Fatalf("cut %d: %+v", cut, got)
	}
}
