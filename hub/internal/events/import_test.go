package events

import (
	"testing"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/events/delivery"
)

// Records taken over from another hub are stored without deliveries; finding
// the same events again sends nothing, and their end is published without
// an alert; an older revision does not replace a newer one.
func TestImportTakesOverWithoutRepeating(t *testing.T) {
	o := baseOptions(nil)
	o.Stream = delivery.StreamConfig{Name: "EV", SubjectPrefix: "ev"}
	o.Webhooks = []delivery.Endpoint{{Name: "cmms", URL: "http://127.0.0.1:1", Events: true}, {Name: "leaders", URL: "http://127.0.0.1:1"}, {Name: "mgmt", URL: "http://127.0.0.1:1"}}
	s := openStore(t, "", o)
	now := local("2026-06-01 07:00")
	dt := downtime("M01", now)
	rec := anomaly.Record{Event: dt, Status: anomaly.Acknowledged, Revision: 2, AcknowledgedBy: "alice", Updated: now}
	n, err := s.Import([]anomaly.Record{rec})
	if err != nil || n != 1 {
		t.Fatalf("import: %d %v", n, err)
	}
	if got := pending(t, s); len(got) != 0 {
		t.Fatalf("import queued deliveries: %v", got)
	}
	if changed, err := s.Apply([]anomaly.Event{dt}, now); err != nil || len(changed) != 0 {
		t.Fatalf("re-detection changed %+v, %v", changed, err)
	}
	older := rec
	older.Revision, older.Status, older.AcknowledgedBy = 1, anomaly.Opened, ""
	if n, _ := s.Import([]anomaly.Record{older}); n != 0 {
		t.Fatal("an older revision replaced a newer one")
	}
	got, err := s.Get(dt.ID)
	if err != nil || got.Status != anomaly.Acknowledged || got.AcknowledgedBy != "alice" {
		t.Fatalf("kept %+v %v", got, err)
	}
	// It ends: revision 3 to the stream and the maintenance system, no alert.
	changed, err := s.Apply([]anomaly.Event{ended(dt, now.Add(10*60e9))}, now.Add(10*60e9))
	if err != nil || len(changed) != 1 || changed[0].Revision != 3 || changed[0].Status != anomaly.Resolved {
		t.Fatalf("end: %+v %v", changed, err)
	}
	if got := pending(t, s); got[delivery.StreamDest] != 1 || got["cmms"] != 1 || got["leaders"] != 0 || got["mgmt"] != 0 {
		t.Fatalf("deliveries after the end: %v", got)
	}
}
