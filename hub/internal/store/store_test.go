package store

import (
	"path/filepath"
	"testing"

	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

func TestSaveLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	k := signal.Key{Site: "s", Line: "L1", Equipment: "M1"}
	if err := s.Save([]Change{{Key: k, First: -5, Horizon: 100, Points: []state.Point{{T: 10, Run: true}, {T: -3, Run: false}}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Save([]Change{{Key: k, First: -5, Horizon: 120, Points: []state.Point{{T: 50, Run: false}}}}); err != nil {
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
	tl := got[k]
	if tl == nil {
		t.Fatal("timeline lost")
	}
	first, horizon, _ := tl.Span()
	pts := tl.Points()
	if first != -5 || horizon != 120 || len(pts) != 3 || pts[0].T != -3 || pts[1] != (state.Point{T: 10, Run: true}) || pts[2].T != 50 {
		t.Fatalf("got span %d..%d points %v", first, horizon, pts)
	}
	run, _ := tl.Within(-5, 120)
	if run != 40 {
		t.Fatalf("run %d, want 40", run)
	}
}
