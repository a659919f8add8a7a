package action

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// keepers opens two handles on one store of each kind, as two hubs would
// have: the bbolt file of a single hub (one handle, shared) and the
// JetStream bucket of a partitioned deployment (a connection each).
func keepers(t *testing.T) map[string][2]Keeper {
	t.Helper()
	st, err := OpenStore(filepath.Join(t.TempDir(), "actions.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	url := testenv.StartNATS(t).URL
	var buckets [2]Keeper
	for i := range buckets {
		nc, err := nats.Connect(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, _ := jetstream.New(nc)
		if buckets[i], err = OpenBucket(context.Background(), js, "S_ACTIONS"); err != nil {
			t.Fatal(err)
		}
	}
	return map[string][2]Keeper{"bbolt": {st, st}, "jetstream": buckets}
}

// Actions created and changed at the same time through two hubs: every id
// is given once, in creation order; every change of every hub is in the
// history; each hub reads what the other wrote; the list is newest first.
func TestKeeperConcurrentHubs(t *testing.T) {
	for name, k := range keepers(t) {
		t.Run(name, func(t *testing.T) {
			now := time.Date(2026, 10, 14, 9, 0, 0, 0, time.UTC)
			n := New{What: "check the spindle", Owner: "alice", Due: "2026-10-20", Subject: Subject{Kind: SubjectMachine, Site: "s1", Line: "L1", Equipment: "M01"}}
			const each = 15
			var wg sync.WaitGroup
			ids := make(chan string, 2*each)
			errs := make(chan error, 4*each)
			if list, err := k[1].List(Filter{}, time.UTC); err != nil || len(list) != 0 {
				t.Fatalf("empty: %v, %v", list, err)
			}
			first, err := k[0].Create(n, "alice", now)
			if err != nil {
				t.Fatal(err)
			}
			for h := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						a, err := k[h].Create(n, fmt.Sprintf("hub%d", h), now)
						if err != nil {
							errs <- err
							continue
						}
						ids <- a.ID
						note := fmt.Sprintf("hub%d note %d", h, i)
						if _, err := k[h].Update(first.ID, Patch{Note: &note}, "bob", now); err != nil {
							errs <- err
						}
					}
				}()
			}
			wg.Wait()
			close(ids)
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			seen := map[string]bool{first.ID: true}
			for id := range ids {
				if seen[id] {
					t.Fatalf("id %s given twice", id)
				}
				seen[id] = true
			}
			if len(seen) != 2*each+1 {
				t.Fatalf("%d ids", len(seen))
			}
			for h := range 2 {
				got, err := k[1-h].Get(first.ID)
				if err != nil {
					t.Fatal(err)
				}
				notes := map[string]bool{}
				for _, c := range got.History {
					if c.Field == "note" {
						notes[c.To] = true
					}
				}
				if len(notes) != 2*each {
					t.Fatalf("hub %d reads %d of the %d notes: a change was lost", 1-h, len(notes), 2*each)
				}
			}
			done := Done
			if _, err := k[1].Update(first.ID, Patch{Status: &done}, "bob", now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			list, err := k[0].List(Filter{}, time.UTC)
			if err != nil || len(list) != 2*each+1 {
				t.Fatalf("list: %d actions, %v", len(list), err)
			}
			for i := 1; i < len(list); i++ {
				a, _ := parseID(list[i-1].ID)
				b, _ := parseID(list[i].ID)
				if a <= b {
					t.Fatalf("list not newest first: %s before %s", list[i-1].ID, list[i].ID)
				}
			}
			if doneList, _ := k[0].List(Filter{Status: Done}, time.UTC); len(doneList) != 1 || doneList[0].ID != first.ID || doneList[0].DoneAt == nil {
				t.Fatalf("done: %+v", doneList)
			}
			if _, err := k[1].Get("A999999"); err != ErrNotFound {
				t.Fatalf("unknown id: %v", err)
			}
		})
	}
}
