package store

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

func TestSaveLoadAndPending(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	k := signal.Key{Site: "s", Line: "L1", Equipment: "M1"}
	first := state.Change{Key: k, First: -5, Horizon: 100,
		Run:   []state.Point{{T: 10, V: state.True}, {T: -3, V: state.False}},
		State: []state.StatePoint{{T: 10, S: state.Running}}, Alarm: []state.AlarmPoint{{T: 20, V: state.Bad}, {T: 25, V: state.True, Code: "E-17 over temp"}},
		Count: []state.Count{{T: 12, V: 1.5e9}},
		Scrap: []state.Count{{T: 12, V: 3}}, Power: []state.Count{{T: 11, V: 17.25}, {T: 30, V: 0}}, Energy: []state.Count{{T: 13, V: 1234.5}},
		Ops:  []state.OpEvent{{T: 1, Kind: state.OpSet, Op: "a,b"}, {T: 2, Kind: state.OpLogout, Op: "a"}},
		Gaps: []state.Interval{{Start: 30, End: 40}}, SilencesChanged: true, Silences: []state.Interval{{Start: -5, End: 10}, {Start: 60, End: 90}}}
	if err := s.Save([]state.Change{first}, map[signal.Key]state.Range{k: {From: 10, To: 100}}); err != nil {
		t.Fatal(err)
	}
	second := state.Change{Key: k, First: -5, Horizon: 120, Run: []state.Point{{T: 50, V: state.False}},
		SilencesChanged: true, Silences: []state.Interval{{Start: 60, End: 90}}}
	if err := s.Save([]state.Change{second}, map[signal.Key]state.Range{k: {From: 0, To: 120}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	want := state.Saved{First: -5, Horizon: 120,
		Run:   []state.Point{{T: -3, V: state.False}, {T: 10, V: state.True}, {T: 50, V: state.False}},
		State: first.State, Alarm: first.Alarm, Count: first.Count, Scrap: first.Scrap, Power: first.Power, Energy: first.Energy, Ops: first.Ops, Gaps: first.Gaps,
		Silences: []state.Interval{{Start: 60, End: 90}}}
	if !reflect.DeepEqual(got[k], want) {
		t.Fatalf("got  %+v\nwant %+v", got[k], want)
	}
	// Pending ranges merge, and are cleared only when written as stored.
	pend, err := s.Pending()
	if err != nil || pend[k] != (state.Range{From: 0, To: 120}) {
		t.Fatalf("pending %v %v", pend, err)
	}
	if err := s.Written(map[signal.Key]state.Range{k: {From: 10, To: 100}}); err != nil {
		t.Fatal(err)
	}
	if pend, _ = s.Pending(); len(pend) != 1 {
		t.Fatal("a wider pending range was cleared by a narrower write")
	}
	if err := s.Written(map[signal.Key]state.Range{k: {From: 0, To: 120}}); err != nil {
		t.Fatal(err)
	}
	if pend, _ = s.Pending(); len(pend) != 0 {
		t.Fatalf("still pending: %v", pend)
	}
}

// LoadKeys reads the named timelines as Load does, and leaves out keys with
// nothing stored.
func TestLoadKeys(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k1 := signal.Key{Site: "s", Line: "L1", Equipment: "M1"}
	k2 := signal.Key{Site: "s", Line: "L1", Equipment: "M2"}
	none := signal.Key{Site: "s", Line: "L2", Equipment: "M1"}
	changes := []state.Change{
		{Key: k1, First: 1, Horizon: 5, Run: []state.Point{{T: 1, V: state.True}}, Ops: []state.OpEvent{{T: 2, Kind: state.OpLogin, Op: "a"}}},
		{Key: k2, First: 3, Horizon: 4, Count: []state.Count{{T: 3, V: 7}}},
	}
	if err := s.Save(changes, nil); err != nil {
		t.Fatal(err)
	}
	all, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadKeys([]signal.Key{k1, none})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !reflect.DeepEqual(got[k1], all[k1]) {
		t.Fatalf("got %+v, want only %+v", got, all[k1])
	}
}
