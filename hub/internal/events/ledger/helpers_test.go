package ledger

import (
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/events/payload"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

var t0 = time.Date(2026, 6, 1, 5, 0, 0, 0, time.UTC)

var errRoute = errors.New("router refuses")

// fakeRouter sends every change to each of dests, with the revision's
// dedupe key; err, when set, fails every Route.
type fakeRouter struct {
	dests []string
	err   error

	mu    sync.Mutex
	calls []string // "<id>-<rev> <change>"
}

func (r *fakeRouter) Route(rec anomaly.Record, change string) ([]Item, error) {
	r.mu.Lock()
	r.calls = append(r.calls, payload.DedupeID(rec.ID, rec.Revision)+" "+change)
	r.mu.Unlock()
	if r.err != nil {
		return nil, r.err
	}
	var out []Item
	for _, d := range r.dests {
		out = append(out, Item{Dest: d, ID: payload.DedupeID(rec.ID, rec.Revision), RecordID: rec.ID, Revision: rec.Revision,
			Kind: change, ContentType: "application/json", Body: []byte(`{"change":"` + change + `"}`)})
	}
	return out, nil
}

func (r *fakeRouter) routed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// fakeAlerter alerts "leaders" once when a record is first seen, repeats
// every interval until it is acknowledged, and reports its acknowledgement
// and resolution; err, when set, fails every Step.
type fakeAlerter struct {
	interval time.Duration
	err      error

	mu    sync.Mutex
	steps []string // "<id> <phase before>"
}

func (a *fakeAlerter) Step(st alert.State, rec anomaly.Record, now time.Time) (alert.State, []Item, error) {
	a.mu.Lock()
	a.steps = append(a.steps, rec.ID+" "+st.Phase)
	a.mu.Unlock()
	if a.err != nil {
		return st, nil, a.err
	}
	note := func(kind string) Item {
		return Item{Dest: "leaders", ID: rec.ID + "-alert-" + kind, RecordID: rec.ID, Revision: rec.Revision, Kind: "alert." + kind}
	}
	switch {
	case rec.Status == anomaly.Resolved && st.Phase == alert.PhaseActive:
		return alert.State{Phase: alert.PhaseDone}, []Item{note(alert.KindResolved)}, nil
	case rec.Status == anomaly.Resolved:
		return alert.State{Phase: alert.PhaseDone}, []Item{note(alert.KindOpened)}, nil
	case rec.Status == anomaly.Acknowledged && st.Phase == alert.PhaseActive && !st.Acked:
		st.Acked, st.RepeatAt = true, time.Time{}
		return st, []Item{note(alert.KindAcknowledged)}, nil
	case st.Phase == alert.PhaseNone:
		return alert.State{Phase: alert.PhaseActive, RepeatAt: now.Add(a.interval)}, []Item{note(alert.KindOpened)}, nil
	case !st.RepeatAt.IsZero() && !now.Before(st.RepeatAt):
		st.Repeats++
		st.RepeatAt = now.Add(a.interval)
		return st, []Item{note(alert.KindRepeat)}, nil
	}
	return st, nil, nil
}

func (a *fakeAlerter) stepped() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.steps)
}

// open opens a store at path (a new file when empty), closed at the end of the test.
func open(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "events.db")
	}
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// event is an open event of plant1/<line>/<eq> that started 5 minutes before t0.
func event(typ, line, eq string) anomaly.Event {
	k := signal.Key{Site: "plant1", Line: line, Equipment: eq}
	start := t0.Add(-5 * time.Minute)
	return anomaly.Event{ID: anomaly.EventID(typ, k, "", start), Type: typ, Severity: anomaly.Warning, Site: k.Site,
		Line: k.Line, Equipment: k.Equipment, Start: start, Detected: t0, Evidence: map[string]float64{"threshold_s": 300},
		Reason: "stopped in shift"}
}

func downtime(eq string) anomaly.Event { return event(anomaly.UnplannedDowntime, "L1", eq) }

func ended(e anomaly.Event, end time.Time) anomaly.Event {
	e.End = &end
	return e
}

func apply(t *testing.T, s *Store, now time.Time, evs ...anomaly.Event) []anomaly.Record {
	t.Helper()
	changed, err := s.Apply(evs, now)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return changed
}

// ids returns the dedupe keys of every outbox item of dest, due or not.
func ids(t *testing.T, s *Store, dest string) []string {
	t.Helper()
	items, _, err := s.Ready(dest, t0.Add(1000*time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		out = append(out, it.ID)
	}
	return out
}

func pending(t *testing.T, s *Store) map[string]int {
	t.Helper()
	p, err := s.Pending()
	if err != nil {
		t.Fatal(err)
	}
	for k, n := range p {
		if n == 0 {
			delete(p, k)
		}
	}
	return p
}
