package ledger

import (
	"errors"
	"testing"
	"time"
)

// Retention deletes only resolved records last changed before the cutoff
// (with their alert state) and dead letters that failed before theirs;
// open and acknowledged records and the outbox stay, however old.
func TestPruneDeletesOnlyOldResolvedRecordsAndDeadLetters(t *testing.T) {
	s := open(t, "", Options{Dests: []string{"cmms"}, Router: &fakeRouter{dests: []string{"cmms"}}, Alerter: &fakeAlerter{interval: time.Hour}})
	later := t0.Add(40 * 24 * time.Hour)
	oldOpen, oldAcked, oldResolved, newResolved := downtime("M01"), downtime("M02"), ended(downtime("M03"), t0), downtime("M04")
	apply(t, s, t0, oldOpen, oldAcked, oldResolved, newResolved)
	if _, err := s.Ack(oldAcked.ID, "alice", "", t0); err != nil {
		t.Fatal(err)
	}
	apply(t, s, later, ended(newResolved, later))

	// Two dead letters: one old, one recent; the rest stays in the outbox.
	items, _, err := s.Ready("cmms", later, 100)
	if err != nil || len(items) < 3 {
		t.Fatalf("outbox: %d items, %v", len(items), err)
	}
	for i, at := range []time.Time{t0, later} {
		it := items[i]
		it.Attempts, it.LastError, it.FailedAt = 20, "410 Gone", at
		must(t, s.Failed(it, true))
	}
	outboxBefore := pending(t, s)["cmms"]

	cutoff := t0.Add(10 * 24 * time.Hour)
	got, err := s.Prune(cutoff, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	if got != (Pruned{Records: 1, DeadLetters: 1}) {
		t.Fatalf("pruned %+v", got)
	}
	if _, err := s.Get(oldResolved.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old resolved record: %v", err)
	}
	for _, id := range []string{oldOpen.ID, oldAcked.ID, newResolved.ID} {
		if _, err := s.Get(id); err != nil {
			t.Fatalf("record %s: %v", id, err)
		}
	}
	recs, _, _, err := s.List(Filter{}, "", 100)
	if err != nil || len(recs) != 3 {
		t.Fatalf("list after prune: %d records, %v", len(recs), err)
	}
	dead, err := s.DeadLetters(0, 100)
	if err != nil || len(dead) != 1 || !dead[0].FailedAt.Equal(later) {
		t.Fatalf("dead letters after prune: %+v %v", dead, err)
	}
	if n := pending(t, s)["cmms"]; n != outboxBefore {
		t.Fatalf("outbox %d items, was %d", n, outboxBefore)
	}
	// Nothing more to prune; zero times prune nothing.
	if got, err := s.Prune(cutoff, cutoff); err != nil || got != (Pruned{}) {
		t.Fatalf("second prune %+v %v", got, err)
	}
	if got, err := s.Prune(time.Time{}, time.Time{}); err != nil || got != (Pruned{}) {
		t.Fatalf("zero prune %+v %v", got, err)
	}
	// Detecting the deleted event again opens it anew (why retention.events
	// must outlast what can still be restated).
	if ch := apply(t, s, later, oldResolved); len(ch) != 1 || ch[0].Revision != 1 {
		t.Fatalf("re-detection after prune: %+v", ch)
	}
}
