package ledger

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// outboxStore holds three changes routed to "cmms", in order.
func outboxStore(t *testing.T, dests ...string) (*Store, []Item) {
	t.Helper()
	s := open(t, "", Options{Dests: dests, Router: &fakeRouter{dests: []string{"cmms"}}})
	apply(t, s, t0, downtime("M01"), downtime("M02"), downtime("M03"))
	items, next, err := s.Ready("cmms", t0, 10)
	if err != nil || len(items) != 3 || !next.IsZero() {
		t.Fatalf("ready: %d items, next %s, %v", len(items), next, err)
	}
	return s, items
}

// Items are ready in the order they were enqueued, n at a time; a failed
// attempt waits for its due time, a delivered item is gone.
func TestOutboxReadyInOrder(t *testing.T) {
	s, items := outboxStore(t, "cmms")
	for i := 1; i < len(items); i++ {
		if items[i].Seq <= items[i-1].Seq {
			t.Fatalf("items out of order: %d before %d", items[i-1].Seq, items[i].Seq)
		}
		if !items[i].Created.Equal(t0) || !items[i].NextAt.IsZero() {
			t.Fatalf("item %d created %s due %s", i, items[i].Created, items[i].NextAt)
		}
	}
	two, _, err := s.Ready("cmms", t0, 2)
	if err != nil || len(two) != 2 || two[0].ID != items[0].ID || two[1].ID != items[1].ID {
		t.Fatalf("ready 2: %+v %v", two, err)
	}
	none, next, err := s.Ready("nobody", t0, 10)
	if err != nil || len(none) != 0 || !next.IsZero() {
		t.Fatalf("ready of an unknown destination: %v %s %v", none, next, err)
	}

	retry := items[0]
	retry.Attempts, retry.LastError, retry.NextAt = 1, "503 Service Unavailable", t0.Add(time.Minute)
	must(t, s.Failed(retry, false))
	must(t, s.Delivered(items[1]))

	tests := []struct {
		name     string
		at       time.Time
		wantIDs  []string
		wantNext time.Time
	}{
		{"before the retry is due", t0.Add(30 * time.Second), []string{items[2].ID}, t0.Add(time.Minute)},
		{"when the retry is due", t0.Add(time.Minute), []string{items[0].ID, items[2].ID}, time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := s.Ready("cmms", tc.at, 10)
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []string
			for _, it := range got {
				gotIDs = append(gotIDs, it.ID)
			}
			if !slices.Equal(gotIDs, tc.wantIDs) || !next.Equal(tc.wantNext) {
				t.Fatalf("ready %v next %s, want %v next %s", gotIDs, next, tc.wantIDs, tc.wantNext)
			}
			if tc.wantNext.IsZero() && (got[0].Attempts != 1 || got[0].LastError == "") {
				t.Fatalf("the failed attempt was not kept: %+v", got[0])
			}
		})
	}
	if p := pending(t, s); p["cmms"] != 2 {
		t.Fatalf("pending %v, want cmms 2", p)
	}
}

// A dead item leaves the outbox for the dead letters, with its attempts
// and error; redelivered, it is back in the outbox, due at once, with its
// attempts reset; its destination gone, it stays dead.
func TestDeadLettersAndRedelivery(t *testing.T) {
	s, items := outboxStore(t, "cmms")
	for i, it := range items[:2] {
		it.Attempts, it.LastError, it.FailedAt = 20, "410 Gone", t0.Add(time.Duration(i+1)*time.Minute)
		must(t, s.Failed(it, true))
	}
	if got := ids(t, s, "cmms"); !slices.Equal(got, []string{items[2].ID}) {
		t.Fatalf("outbox after two dead: %v", got)
	}
	dls, err := s.DeadLetters(0, 10)
	if err != nil || len(dls) != 2 {
		t.Fatalf("dead letters %+v %v", dls, err)
	}
	d := dls[0]
	if d.Seq != items[0].Seq || d.ID != items[0].ID || d.Endpoint != "cmms" || d.RecordID != items[0].RecordID ||
		d.Attempts != 20 || d.LastError != "410 Gone" || !d.FailedAt.Equal(t0.Add(time.Minute)) || d.Kind != "opened" {
		t.Fatalf("dead letter %+v", d)
	}
	if page, _ := s.DeadLetters(dls[0].Seq, 10); len(page) != 1 || page[0].Seq != dls[1].Seq {
		t.Fatalf("dead letters after %d: %+v", dls[0].Seq, page)
	}

	path := s.db.Path()
	tests := []struct {
		name  string
		seq   uint64
		dests []string
		want  error
	}{
		{"unknown dead letter", 999, []string{"cmms"}, ErrNotFound},
		{"endpoint no longer configured", dls[1].Seq, []string{"other"}, ErrConflict},
		{"redelivered", dls[0].Seq, []string{"cmms"}, nil},
	}
	parent := t
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			must(t, s.Close())
			s = open(parent, path, Options{Dests: tc.dests}) // closed when the whole test ends
			if err := s.Redeliver(tc.seq, t0.Add(time.Hour)); !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Fatalf("redeliver: %v, want %v", err, tc.want)
			}
		})
	}
	ready, _, err := s.Ready("cmms", t0.Add(time.Hour), 10)
	if err != nil || len(ready) != 2 || ready[0].ID != items[0].ID || ready[0].Attempts != 0 || !ready[0].FailedAt.IsZero() {
		t.Fatalf("outbox after redelivery: %+v %v", ready, err)
	}
	if dls, _ := s.DeadLetters(0, 10); len(dls) != 1 || dls[0].Seq != items[1].Seq {
		t.Fatalf("dead letters after redelivery: %+v", dls)
	}
	select {
	case <-s.Wake("cmms"):
	default:
		t.Fatal("redelivery did not wake the destination")
	}
}

// A failure reported for an item no longer in the outbox (redelivered or
// delivered meanwhile) changes nothing.
func TestFailedOfGoneItem(t *testing.T) {
	for _, dead := range []bool{false, true} {
		t.Run(map[bool]string{false: "retry", true: "dead"}[dead], func(t *testing.T) {
			s, items := outboxStore(t, "cmms")
			must(t, s.Delivered(items[0]))
			it := items[0]
			it.Attempts, it.LastError = 1, "late answer"
			must(t, s.Failed(it, dead))
			if got := ids(t, s, "cmms"); len(got) != 2 {
				t.Fatalf("a gone item came back: %v", got)
			}
			if dls, _ := s.DeadLetters(0, 10); len(dls) != 0 {
				t.Fatalf("a gone item went to the dead letters: %+v", dls)
			}
		})
	}
}

// The outbox of a destination no longer configured goes to the dead
// letters; configured ones stay.
func TestOrphans(t *testing.T) {
	r := &fakeRouter{dests: []string{"cmms", "old"}}
	path := t.TempDir() + "/events.db"
	s := open(t, path, Options{Dests: []string{"cmms", "old"}, Router: r})
	apply(t, s, t0, downtime("M01"), downtime("M02"))
	must(t, s.Close())

	s = open(t, path, Options{Dests: []string{"cmms"}})
	must(t, s.Orphans(t0.Add(time.Hour)))
	if p := pending(t, s); len(p) != 1 || p["cmms"] != 2 {
		t.Fatalf("pending %v, want cmms 2", p)
	}
	dls, err := s.DeadLetters(0, 10)
	if err != nil || len(dls) != 2 {
		t.Fatalf("dead letters %+v %v", dls, err)
	}
	for _, d := range dls {
		if d.Endpoint != "old" || d.LastError == "" || !d.FailedAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("dead letter %+v", d)
		}
	}
}

// Every change wakes every destination; a store with nothing new does not.
func TestWake(t *testing.T) {
	s := open(t, "", Options{Dests: []string{"stream", "cmms"}, Router: &fakeRouter{dests: []string{"stream"}}})
	woken := func(dest string) bool {
		select {
		case <-s.Wake(dest):
			return true
		default:
			return false
		}
	}
	steps := []struct {
		name string
		do   func()
		want bool
	}{
		{"new record", func() { apply(t, s, t0, downtime("M01")) }, true},
		{"same record again", func() { apply(t, s, t0, downtime("M01")) }, false},
		{"acknowledged", func() { _, err := s.Ack(downtime("M01").ID, "alice", "", t0); must(t, err) }, true},
		{"rejected action", func() { _, _ = s.Ack(downtime("M01").ID, "alice", "", t0) }, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do()
			for _, d := range []string{"stream", "cmms"} {
				if got := woken(d); got != st.want {
					t.Fatalf("%s woken %v, want %v", d, got, st.want)
				}
			}
		})
	}
	if s.Wake("unknown") != nil {
		t.Fatal("an unknown destination has a wake channel")
	}
}
