package store

import (
	"math/rand"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

const minute = int64(60e9)

// machineMonth is a month of one machine: run changes every 20-60 min, a
// counter every 5 min, operators per shift, silences and a lost range.
func machineMonth(seed int64) *state.Timeline {
	rng := rand.New(rand.NewSource(seed))
	tl := &state.Timeline{Timeout: 30 * minute}
	on := int8(state.False)
	count := 0.0
	for t := int64(0); t < 30*24*60*minute; t += 20*minute + rng.Int63n(40*minute) {
		if rng.Intn(25) == 0 {
			t += 3 * 60 * minute
		}
		tl.Observe(t)
		on = 1 - on
		tl.SetRun(t, on)
		tl.SetState(t, state.State(1+rng.Intn(4)))
		count += float64(rng.Intn(5))
		tl.SetCount(t, count)
		tl.SetSeries(state.SeriesScrap, t, float64(rng.Intn(3)))
		tl.SetSeries(state.SeriesPower, t, float64(on)*12.5)
		tl.SetSeries(state.SeriesEnergy, t, count*0.7)
		if rng.Intn(10) == 0 {
			tl.AddOp(state.OpEvent{T: t, Kind: state.OpSet, Op: []string{"", "ann", "ann,bob"}[rng.Intn(3)]})
		}
		if rng.Intn(50) == 0 {
			tl.AddGap(state.Interval{Start: t + minute, End: t + 2*60*minute})
		}
	}
	return tl
}

func changeOf(k signal.Key, sv state.Saved) state.Change {
	return state.Change{Key: k, First: sv.First, Horizon: sv.Horizon, Run: sv.Run, State: sv.State, Alarm: sv.Alarm,
		Count: sv.Count, Scrap: sv.Scrap, Power: sv.Power, Energy: sv.Energy, Ops: sv.Ops, Gaps: sv.Gaps, SilencesChanged: true, Silences: sv.Silences}
}

// The store drops the records before the cut, keeps what the trimmed
// timeline holds (the same as Timeline.Trim in memory), stores the floor,
// and a reopened store loads the trimmed timelines.
func TestTrimDropsOldRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	keys := []signal.Key{{Site: "s", Line: "L1", Equipment: "M1"}, {Site: "s", Line: "L1", Equipment: "M2"}}
	tls := map[signal.Key]*state.Timeline{}
	var changes []state.Change
	for i, k := range keys {
		tls[k] = machineMonth(int64(i + 1))
		changes = append(changes, changeOf(k, tls[k].Save()))
	}
	if err := s.Save(changes, nil); err != nil {
		t.Fatal(err)
	}
	before, floor := 12*24*60*minute+7*minute, 14*24*60*minute
	got, err := s.Trim(before, floor)
	if err != nil {
		t.Fatal(err)
	}
	if got.Equipment != 2 || got.Records < 100 {
		t.Fatalf("trimmed %+v", got)
	}
	if again, err := s.Trim(before, floor-1); err != nil || again != (Trimmed{}) {
		t.Fatalf("a second trim at the same cut: %+v %v", again, err)
	}
	s.Close()
	if s, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if f, err := s.Floor(); err != nil || f != floor {
		t.Fatalf("floor %d %v, want %d (never lowered)", f, err, floor)
	}
	loaded, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		tls[k].Trim(before)
		if want := tls[k].Save(); !reflect.DeepEqual(loaded[k], want) {
			t.Fatalf("%s:\nloaded %+v\nwant   %+v", k, loaded[k], want)
		}
		if loaded[k].First != before || loaded[k].Run[0].T != before {
			t.Fatalf("%s does not start at the cut: %+v", k, loaded[k].Run[:2])
		}
	}
}

// A store nobody trimmed has no floor.
func TestNoFloor(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if f, err := s.Floor(); f != 0 || err != nil {
		t.Fatalf("floor %d %v", f, err)
	}
}
