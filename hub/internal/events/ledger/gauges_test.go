package ledger

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
)

// Gauge states are saved with the events in one transaction: all or nothing,
// and kept across a reopen.
func TestApplyGaugesOneTransaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	router := &fakeRouter{dests: []string{"hook"}, err: errRoute}
	s := open(t, path, Options{Dests: []string{"hook"}, Router: router})
	e := event(anomaly.GaugeAnomaly, "L1", "M1")
	if _, err := s.ApplyGauges([]anomaly.Event{e}, map[string][]byte{"g": []byte("v1")}, t0); !errors.Is(err, errRoute) {
		t.Fatalf("apply with a failing router: %v", err)
	}
	if _, ok, err := s.GaugeState("g"); ok || err != nil {
		t.Fatalf("state of a failed transaction kept: %v %v", ok, err)
	}
	router.err = nil
	if changed, err := s.ApplyGauges([]anomaly.Event{e}, map[string][]byte{"g": []byte("v1")}, t0); err != nil || len(changed) != 1 {
		t.Fatalf("apply: %v %v", changed, err)
	}
	if _, err := s.ApplyGauges(nil, map[string][]byte{"g": []byte("v2")}, t0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, path, Options{Dests: []string{"hook"}, Router: router})
	if v, ok, err := s.GaugeState("g"); !ok || err != nil || string(v) != "v2" {
		t.Fatalf("state after reopening: %q %v %v", v, ok, err)
	}
	if _, err := s.Get(e.ID); err != nil {
		t.Fatalf("event after reopening: %v", err)
	}
}
