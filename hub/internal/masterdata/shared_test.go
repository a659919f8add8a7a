package masterdata

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// openShared opens the master data stream of the signals stream "S" on
// the NATS server at url, over a connection of its own (one hub's).
func openShared(t *testing.T, url string) *Shared {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenShared(context.Background(), js, "S_MASTERDATA", "floorpulse.masterdata.S")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Two hubs import the same records at the same time, many times over: no
// change is lost. Each record's audit entries have the versions 1, 2, 3,
// ... in the stream's order, each one's before is the previous one's
// after, and the record stored is its last entry's after.
func TestSharedConcurrentImports(t *testing.T) {
	url := testenv.StartNATS(t).URL
	hubs := []*Shared{openShared(t, url), openShared(t, url)}
	const rounds = 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*rounds)
	for h, s := range hubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				recs := []Record{
					{"id": "M01", "site": "s1", "line": "L1", "class": fmt.Sprintf("h%d-%d", h, i)},
					{"id": "M02", "site": "s1", "line": "L1", "class": fmt.Sprintf("h%d-%d", h, i)},
					{"id": fmt.Sprintf("H%d", h), "site": "s1", "line": "L1", "class": fmt.Sprint(i)},
				}
				if _, err := s.Apply(Equipment, recs, fmt.Sprintf("hub%d", h), time.Now(), false, nil); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent import: %v", err)
	}
	audit, err := hubs[0].Audit(0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]Change{}
	for i, c := range audit {
		if i > 0 && c.Seq <= audit[i-1].Seq {
			t.Fatalf("audit out of order: %d after %d", c.Seq, audit[i-1].Seq)
		}
		prev, seen := last[c.Key]
		switch {
		case !seen && (c.Version != 1 || c.Before != nil):
			t.Fatalf("first change of %s: version %d, before %v", c.Key, c.Version, c.Before)
		case seen && (c.Version != prev.Version+1 || !maps.Equal(c.Before, prev.After)):
			t.Fatalf("change %d of %s: version %d before %v, after version %d with %v: an update was lost",
				c.Seq, c.Key, c.Version, c.Before, prev.Version, prev.After)
		}
		last[c.Key] = c
	}
	// Each hub's own record changed in every round; the shared ones at
	// least once per round (the rounds of the two hubs interleave).
	for _, k := range []string{"s1/H0", "s1/H1"} {
		if last[k].Version != rounds {
			t.Errorf("%s: %d versions, want %d", k, last[k].Version, rounds)
		}
	}
	if last["s1/M01"].Version < rounds {
		t.Errorf("s1/M01: %d versions, want at least %d", last["s1/M01"].Version, rounds)
	}
	for _, s := range hubs {
		recs, err := s.Records(Equipment)
		if err != nil || len(recs) != 4 {
			t.Fatalf("records %v, %v", recs, err)
		}
		for _, r := range recs {
			if k := r["site"] + "/" + r["id"]; !maps.Equal(r, last[k].After) {
				t.Errorf("%s stored %v, its last change says %v", k, r, last[k].After)
			}
		}
	}
}

// A hub watching the stream gets every change in the order of the audit
// log, in batches, from the sequence it starts after; Between reads a
// range of it.
func TestSharedWatch(t *testing.T) {
	url := testenv.StartNATS(t).URL
	a, b := openShared(t, url), openShared(t, url)
	at := time.Date(2026, 10, 14, 9, 0, 0, 0, time.UTC)
	if _, err := a.Apply(Equipment, []Record{{"id": "M01", "site": "s1", "line": "L1"}}, "erp", at, false, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan []Change, 10)
	done := make(chan error, 1)
	go func() {
		done <- b.Watch(ctx, 1, func(cs []Change) error {
			got <- cs
			return nil
		})
	}()
	var recs []Record
	for i := range 5 {
		recs = append(recs, Record{"id": fmt.Sprintf("M%02d", i+2), "site": "s1", "line": "L1"})
	}
	if _, err := a.Apply(Equipment, recs, "erp", at, false, nil); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for len(seqs) < 5 {
		select {
		case cs := <-got:
			for _, c := range cs {
				seqs = append(seqs, c.Seq)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("watched %v, want 5 changes", seqs)
		}
	}
	if fmt.Sprint(seqs) != "[2 3 4 5 6]" {
		t.Fatalf("watched %v", seqs)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("watch: %v", err)
	}
	between, err := a.Between(context.Background(), 2, 4)
	if err != nil || len(between) != 2 || between[0].Key != "s1/M03" || between[1].Key != "s1/M04" {
		t.Fatalf("between 2 and 4: %+v, %v", between, err)
	}
	if last, err := a.Last(context.Background()); err != nil || last != 6 {
		t.Fatalf("last %d, %v", last, err)
	}
}

// BenchmarkSharedImport imports 1,000 new equipment records into the
// JetStream store of an embedded server: one publish per record.
func BenchmarkSharedImport(b *testing.B) {
	url := testenv.StartNATS(b).URL
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	s, err := OpenShared(context.Background(), js, "S_MASTERDATA", "floorpulse.masterdata.S")
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		recs := make([]Record, 1000)
		for j := range recs {
			recs[j] = Record{"id": fmt.Sprintf("M%d-%d", i, j), "site": "s1", "line": "L1"}
		}
		if _, err := s.Apply(Equipment, recs, "erp", time.Now(), false, nil); err != nil {
			b.Fatal(err)
		}
	}
}
