package ledger

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
)

// listStore holds five records, changed in this order: idle L2/M04 (t0),
// downtime L1/M01 (t0+1m), gauge L1/M02 (t0+2m), downtime L2/M03 (t0+3m),
// then M01 again, acknowledged (t0+4m).
func listStore(t *testing.T) (*Store, map[string]string) {
	t.Helper()
	s := open(t, "", Options{})
	evs := map[string]anomaly.Event{
		"M04": event(anomaly.IdleRunning, "L2", "M04"),
		"M01": event(anomaly.UnplannedDowntime, "L1", "M01"),
		"M02": event(anomaly.GaugeAnomaly, "L1", "M02"),
		"M03": event(anomaly.UnplannedDowntime, "L2", "M03"),
	}
	byEq := map[string]string{}
	for i, eq := range []string{"M04", "M01", "M02", "M03"} {
		apply(t, s, t0.Add(time.Duration(i)*time.Minute), evs[eq])
		byEq[evs[eq].ID] = eq
	}
	if _, err := s.Ack(evs["M01"].ID, "alice", "", t0.Add(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	return s, byEq
}

func TestListFilters(t *testing.T) {
	s, byEq := listStore(t)
	tests := []struct {
		name string
		f    Filter
		want []string
	}{
		{"all, by latest change", Filter{}, []string{"M04", "M02", "M03", "M01"}},
		{"type", Filter{Type: anomaly.UnplannedDowntime}, []string{"M03", "M01"}},
		{"line", Filter{Line: "L1"}, []string{"M02", "M01"}},
		{"equipment", Filter{Equipment: "M03"}, []string{"M03"}},
		{"status", Filter{Status: anomaly.Acknowledged}, []string{"M01"}},
		{"site", Filter{Site: "plant2"}, nil},
		{"since", Filter{Since: t0.Add(2 * time.Minute)}, []string{"M02", "M03", "M01"}},
		{"all of them", Filter{Type: anomaly.UnplannedDowntime, Line: "L2", Site: "plant1", Status: anomaly.Opened}, []string{"M03"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, _, more, err := s.List(tc.f, "", 0)
			if err != nil || more {
				t.Fatalf("list: more %v, %v", more, err)
			}
			var got []string
			for _, r := range recs {
				got = append(got, byEq[r.ID])
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// Following the cursor pages through every record once, says whether more
// match, and, from the last page's cursor, is a change feed: a record
// changed later appears again.
func TestListCursor(t *testing.T) {
	tests := []struct {
		name  string
		f     Filter
		limit int
		pages [][]string
	}{
		{"pages of two", Filter{}, 2, [][]string{{"M04", "M02"}, {"M03", "M01"}}},
		{"pages of three", Filter{}, 3, [][]string{{"M04", "M02", "M03"}, {"M01"}}},
		{"filtered pages of one", Filter{Line: "L2"}, 1, [][]string{{"M04"}, {"M03"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, byEq := listStore(t)
			cursor := ""
			for i, want := range tc.pages {
				recs, next, more, err := s.List(tc.f, cursor, tc.limit)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, r := range recs {
					got = append(got, byEq[r.ID])
				}
				if !slices.Equal(got, want) || more != (i < len(tc.pages)-1) || next == "" {
					t.Fatalf("page %d: %v more %v next %q, want %v", i+1, got, more, next, want)
				}
				cursor = next
			}
			recs, next, more, err := s.List(tc.f, cursor, tc.limit)
			if err != nil || len(recs) != 0 || more || next != cursor {
				t.Fatalf("after the last page: %d records, more %v, next %q (was %q), %v", len(recs), more, next, cursor, err)
			}
			m04 := event(anomaly.IdleRunning, "L2", "M04")
			if _, err := s.Resolve(m04.ID, "bob", "", t0.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			recs, _, _, err = s.List(tc.f, cursor, tc.limit)
			if err != nil || len(recs) != 1 || recs[0].ID != m04.ID || recs[0].Status != anomaly.Resolved {
				t.Fatalf("the change feed missed a later change: %+v %v", recs, err)
			}
		})
	}
}

func TestListBadCursor(t *testing.T) {
	s, _ := listStore(t)
	for _, c := range []string{"not base64!", "AAAA", "AAAAAAAAAAAAAA"} {
		t.Run(c, func(t *testing.T) {
			if _, _, _, err := s.List(Filter{}, c, 10); !errors.Is(err, ErrInvalid) {
				t.Fatalf("cursor %q: %v, want ErrInvalid", c, err)
			}
		})
	}
}

// Import stores what is new or newer, without deliveries, and marks the
// alert handled: detecting the same events again routes and alerts nothing.
func TestImport(t *testing.T) {
	r := &fakeRouter{dests: []string{"stream"}}
	a := &fakeAlerter{interval: time.Minute}
	s := open(t, "", Options{Dests: []string{"stream", "leaders"}, Router: r, Alerter: a})
	kept := apply(t, s, t0, downtime("M01"))[0]
	ack := t0.Add(time.Minute)
	rec := func(e anomaly.Event, rev uint64, status string) anomaly.Record {
		return anomaly.Record{Event: e, Status: status, Revision: rev, AcknowledgedBy: "alice", AcknowledgedAt: &ack, Updated: ack}
	}
	berlin := time.FixedZone("CEST", 2*3600)
	m02 := downtime("M02")
	m02.Start, m02.Detected = m02.Start.In(berlin), m02.Detected.In(berlin)
	noID := downtime("M05")
	noID.ID = ""
	recs := []anomaly.Record{
		rec(downtime("M01"), 1, anomaly.Acknowledged),                  // as old as the kept: skipped
		rec(m02, 2, anomaly.Acknowledged),                              // new
		rec(event(anomaly.SignalLoss, "L1", "M03"), 1, anomaly.Opened), // new, not a downtime
		rec(noID, 1, anomaly.Opened),                                   // no id: skipped
	}
	n, err := s.Import(recs)
	if err != nil || n != 2 {
		t.Fatalf("import: %d, %v; want 2", n, err)
	}
	if got, _ := s.Get(kept.ID); got.Revision != 1 || got.Status != anomaly.Opened {
		t.Fatalf("an import as old as the kept record replaced it: %+v", got)
	}
	if got, _ := s.Get(m02.ID); got.Revision != 2 || got.AcknowledgedBy != "alice" || got.Start.Location() != time.UTC {
		t.Fatalf("imported record %+v", got)
	}
	if got := r.routed(); len(got) != 1 {
		t.Fatalf("import was routed: %v", got)
	}
	if n, _ := s.Import(recs); n != 0 {
		t.Fatalf("importing again stored %d", n)
	}

	newer := rec(downtime("M01"), 5, anomaly.Acknowledged)
	if n, _ := s.Import([]anomaly.Record{newer}); n != 1 {
		t.Fatalf("a newer revision was not imported: %d", n)
	}
	if got, _ := s.Get(kept.ID); got.Revision != 5 {
		t.Fatalf("kept revision %d, want 5", got.Revision)
	}

	steps := len(a.stepped())
	if changed := apply(t, s, t0.Add(2*time.Minute), m02, event(anomaly.SignalLoss, "L1", "M03")); len(changed) != 0 {
		t.Fatalf("re-detecting imported events changed %+v", changed)
	}
	ended := apply(t, s, t0.Add(3*time.Minute), ended(m02, t0.Add(3*time.Minute)))
	if len(ended) != 1 || ended[0].Status != anomaly.Resolved || ended[0].Revision != 3 {
		t.Fatalf("the end of an imported event: %+v", ended)
	}
	if got := a.stepped(); len(got) != steps {
		t.Fatalf("an imported alert was stepped: %v", got[steps:])
	}
	if got := ids(t, s, "stream"); !slices.Equal(got, []string{kept.ID + "-1", m02.ID + "-3"}) {
		t.Fatalf("stream items %v", got)
	}
	must(t, s.Due(t0.Add(time.Hour)))
	got := ids(t, s, "leaders")
	if len(got) != 2 || got[0] != kept.ID+"-alert-opened" || !strings.HasPrefix(got[1], kept.ID+"-alert-") {
		t.Fatalf("alerts %v, want only those of the record found here", got)
	}
}
