package api

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
)

// A line's board shows each machine's state since when, and the line's open events.
func TestLineBoard(t *testing.T) {
	e, loc := testEngine(t)
	h := &handler{eng: e, loc: loc, site: "s",
		openEvents: func(site, line string) []anomaly.Record {
			return []anomaly.Record{{Event: anomaly.Event{ID: "x1", Type: anomaly.UnplannedDowntime, Line: line, Equipment: "M2"}, Status: anomaly.Opened}}
		}}
	now := time.Date(2026, 10, 5, 10, 0, 30, 0, loc) // 30 s after M1's last word (no timeout configured)
	got := h.lineNow("L1", now)
	if len(got.Machines) != 2 || len(got.Events) != 1 {
		t.Fatalf("board %+v", got)
	}
	m1, m2 := got.Machines[0], got.Machines[1]
	if m1.State != "idle" || m1.Since == nil || !m1.Since.Equal(time.Date(2026, 10, 5, 10, 0, 0, 0, loc)) || m1.TodayRun != 4 {
		t.Fatalf("M1 %+v", m1)
	}
	if m2.State != "idle" || !m2.Since.Equal(time.Date(2026, 10, 5, 8, 0, 0, 0, loc)) || m2.TodayRun != 1 {
		t.Fatalf("M2 %+v", m2)
	}
	srv := httptest.NewServer(New(e, loc, "s", nil, WithOpenEvents(h.openEvents)))
	defer srv.Close()
	code, body := get(t, srv, "GET", "/api/v1/lines/L1/now")
	var j LineNowJSON
	if code != 200 || json.Unmarshal([]byte(body), &j) != nil || len(j.Machines) != 2 {
		t.Fatalf("board JSON %d: %s", code, body)
	}
}
