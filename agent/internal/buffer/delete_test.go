package buffer

import (
	"context"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestDeleteInTheCommitThatWroteTheRecords drops, within one Append, most of
// the records that Append itself stored: the deletes then run on pages bbolt
// holds in memory for the transaction, where a cursor moved by Next after a
// delete skips keys. Exactly the oldest records must go, and every one of
// them must be in a gap marker.
func TestDeleteInTheCommitThatWroteTheRecords(t *testing.T) {
	one, _ := appendFrame(nil, sig(0))
	max := uint64(len(one) * 100)
	q := openQueue(t, filepath.Join(t.TempDir(), "queue.db"), max)
	if err := q.Append(context.Background(), sigs(0, 3000)); err != nil {
		t.Fatal(err)
	}
	recs, err := q.Peek(10_000)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(recs)) != q.Len() {
		t.Fatalf("Peek read %d records, Len says %d", len(recs), q.Len())
	}
	got := decode(t, recs)
	var kept []float64
	var gapped uint64
	for _, s := range got {
		if s.Gap != nil {
			gapped += s.Gap.Dropped
			continue
		}
		kept = append(kept, s.Value.Num)
	}
	if len(kept) == 0 || kept[len(kept)-1] != 2999 {
		t.Fatalf("kept %v, want the newest up to 2999", kept)
	}
	for i := 1; i < len(kept); i++ {
		if kept[i] != kept[i-1]+1 {
			t.Fatalf("kept %v then %v: a record in between was deleted", kept[i-1], kept[i])
		}
	}
	if first := uint64(kept[0]); gapped != first || q.Dropped() != first {
		t.Fatalf("first kept %d, gap markers cover %d, dropped %d: want all equal", first, gapped, q.Dropped())
	}
	checkFile(t, q)
}

// TestDeleteStopsAtUpto deletes up to sequence numbers inside and at the
// edges of bbolt's pages, reading back what is left after each.
func TestDeleteStopsAtUpto(t *testing.T) {
	q := openQueue(t, filepath.Join(t.TempDir(), "queue.db"), 0)
	ctx := context.Background()
	if err := q.Append(ctx, sigs(0, 5000)); err != nil {
		t.Fatal(err)
	}
	for _, upto := range []uint64{0, 1, 2, 17, 18, 400, 401, 2999, 4999, 5000, 6000} {
		if err := q.Delete(upto); err != nil {
			t.Fatal(err)
		}
		recs, err := q.Peek(10_000)
		if err != nil {
			t.Fatal(err)
		}
		want := uint64(5000) - min(upto, 5000)
		if uint64(len(recs)) != want || q.Len() != want {
			t.Fatalf("after Delete(%d): %d records read, Len %d, want %d", upto, len(recs), q.Len(), want)
		}
		if want > 0 && recs[0].Seq != upto+1 {
			t.Fatalf("after Delete(%d): first record %d, want %d", upto, recs[0].Seq, upto+1)
		}
	}
	checkFile(t, q)
}

// TestPeekIntoReusesTheBatch reads batches into one Batch: each read gives
// the records a fresh PeekAfter gives, whatever the Batch held before.
func TestPeekIntoReusesTheBatch(t *testing.T) {
	q := openQueue(t, filepath.Join(t.TempDir(), "queue.db"), 0)
	ctx := context.Background()
	if err := q.Append(ctx, sigs(0, 1000)); err != nil {
		t.Fatal(err)
	}
	var b Batch
	for _, c := range []struct {
		after uint64
		n     int
	}{{0, 300}, {300, 10}, {310, 700}, {990, 300}, {1000, 5}} {
		if err := q.PeekInto(&b, c.after, c.n); err != nil {
			t.Fatal(err)
		}
		want, err := q.PeekAfter(c.after, c.n)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Recs) != len(want) {
			t.Fatalf("PeekInto(%d, %d): %d records, PeekAfter %d", c.after, c.n, len(b.Recs), len(want))
		}
		for i, r := range b.Recs {
			w := want[i]
			if r.Seq != w.Seq || r.Tail != w.Tail || r.ID != w.ID || string(r.Data) != string(w.Data) {
				t.Fatalf("PeekInto(%d, %d) record %d: %d %s %s %s, want %d %s %s %s",
					c.after, c.n, i, r.Seq, r.Tail, r.ID, r.Data, w.Seq, w.Tail, w.ID, w.Data)
			}
		}
	}
}

// TestOpensFileWithStoredFreelist opens a queue file whose freelist was
// written to it (as every version before NoFreelistSync wrote it, and as
// any other bbolt writes it) and goes on with it.
func TestOpensFileWithStoredFreelist(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue.db")
	ctx := context.Background()
	q, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Append(ctx, sigs(0, 2000)); err != nil {
		t.Fatal(err)
	}
	if err := q.Delete(1500); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	// A commit by a bbolt that keeps the freelist in the file writes it.
	db, err := bolt.Open(path, 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucketIfNotExists([]byte("other")); return err }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	q = openQueue(t, path, 0)
	if q.Len() != 500 {
		t.Fatalf("Len %d after reopening, want 500", q.Len())
	}
	in := sigs(2000, 10)
	if err := q.Append(ctx, in); err != nil {
		t.Fatal(err)
	}
	if in[0].Seq != 2001 {
		t.Fatalf("first new sequence %d, want 2001", in[0].Seq)
	}
	if err := q.Delete(2005); err != nil {
		t.Fatal(err)
	}
	recs, err := q.Peek(100)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 || recs[0].Seq != 2006 {
		t.Fatalf("read %d records from %v, want 5 from 2006", len(recs), recs)
	}
	checkFile(t, q)
}

// checkFile runs bbolt's consistency check on the queue's file.
func checkFile(t *testing.T, q *Queue) {
	t.Helper()
	err := q.db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("queue file inconsistent: %v", err)
	}
}
