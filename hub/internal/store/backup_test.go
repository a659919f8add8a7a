package store

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// A backup opens as a store with the same timelines and pending ranges, and
// later changes to the original do not reach it.
func TestBackup(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(filepath.Join(dir, "p0.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k := signal.Key{Site: "s", Line: "L1", Equipment: "M1"}
	save := func(c state.Change, r state.Range) {
		if err := s.Save([]state.Change{c}, map[signal.Key]state.Range{k: r}); err != nil {
			t.Fatal(err)
		}
	}
	save(state.Change{Key: k, First: 0, Horizon: 100, Run: []state.Point{{T: 0, V: state.True}, {T: 50, V: state.False}}}, state.Range{From: 0, To: 100})
	wantState, _ := s.Load()
	wantPend, _ := s.Pending()
	copyPath := filepath.Join(dir, "copy.db")
	if err := s.Backup(copyPath); err != nil {
		t.Fatal(err)
	}
	save(state.Change{Key: k, First: 0, Horizon: 200, Run: []state.Point{{T: 150, V: state.True}}}, state.Range{From: 100, To: 200})

	c, err := Open(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got, err := c.Load()
	if err != nil || !reflect.DeepEqual(got, wantState) {
		t.Fatalf("backup holds %+v (%v), want %+v", got, err, wantState)
	}
	pend, err := c.Pending()
	if err != nil || !reflect.DeepEqual(pend, wantPend) {
		t.Fatalf("backup pending %v (%v), want %v", pend, err, wantPend)
	}
}
