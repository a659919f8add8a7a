package web

import (
	"log/slog"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
)

// The open events follow the store: an acknowledged event stays with its
// new status, a resolved one goes; what the index holds is what a full
// listing gives.
func TestOpenIndexFollowsTheStore(t *testing.T) {
	f := data(t)
	x := newOpenIndex(f.ev, slog.New(slog.DiscardHandler))
	full := func() map[string]string {
		out := map[string]string{}
		for _, st := range []string{anomaly.Opened, anomaly.Acknowledged} {
			recs, _, _, err := f.ev.List(ledger.Filter{Site: f.cfg.Site, Line: "L3", Status: st}, "", 10000)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				out[r.ID] = r.Status
			}
		}
		return out
	}
	same := func(what string) {
		t.Helper()
		want := full()
		got := map[string]string{}
		for _, r := range x.list(f.cfg.Site, "L3") {
			got[r.ID] = r.Status
		}
		if len(got) != len(want) {
			t.Fatalf("%s: index %d open, store %d", what, len(got), len(want))
		}
		for id, st := range want {
			if got[id] != st {
				t.Fatalf("%s: %s is %q in the index, %q in the store", what, id, got[id], st)
			}
		}
	}
	same("first look")
	open := x.list(f.cfg.Site, "L3")
	if len(open) < 2 {
		t.Fatalf("L3 has %d open events; the test needs two", len(open))
	}
	if _, err := f.ev.Ack(open[0].ID, leaderUser, "", time.Now()); err != nil && open[0].Status == anomaly.Opened {
		t.Fatal(err)
	}
	if _, err := f.ev.Resolve(open[1].ID, leaderUser, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	same("after an acknowledgement and a resolution")
	for _, r := range x.list(f.cfg.Site, "L3") {
		if r.ID == open[1].ID {
			t.Fatal("a resolved event is still open in the index")
		}
	}
}
