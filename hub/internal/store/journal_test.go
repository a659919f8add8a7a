package store

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// journalBatches are batches of every kind of record, with silences
// replaced and pending ranges widened across batches.
func journalBatches() (batches [][]state.Change, dirty []map[signal.Key]state.Range) {
	k1 := signal.Key{Site: "s", Line: "L1", Equipment: "M1"}
	k2 := signal.Key{Site: "s", Line: "L2", Equipment: "M2"}
	for i := int64(0); i < 2*mergeEvery+5; i++ {
		t := 100 * i
		c1 := state.Change{Key: k1, First: 0, Horizon: t + 50,
			Run:   []state.Point{{T: t, V: state.True}, {T: t + 50, V: state.False}},
			State: []state.StatePoint{{T: t + 10, S: state.Down}},
			Alarm: []state.AlarmPoint{{T: t + 20, V: state.True, Code: "E-1"}, {T: t + 30, V: state.False}},
			Count: []state.Count{{T: t + 40, V: float64(i) + 0.5}},
			Ops:   []state.OpEvent{{T: t + 5, Kind: state.OpLogin, Op: "op-1"}},
		}
		if i%7 == 0 {
			c1.SilencesChanged, c1.Silences = true, []state.Interval{{Start: t, End: t + 60}}
			c1.Gaps = []state.Interval{{Start: t + 60, End: t + 70}}
		}
		// Power observations kept a while, then folded into pieces (a
		// put and a delete of one key, in one record or in two).
		c1.Power = []state.Count{{T: t + 1, V: float64(i)}, {T: t + 2, V: 2}}
		c1.PowerFolded = []int64{t + 2}
		if i > 0 {
			c1.PowerFolded = append(c1.PowerFolded, t-99)
			c1.Pieces = []state.Piece{{T: t - 99, KWh: float64(i) / 3}, {T: t - 100 + 50, KWh: 1}}
		}
		c2 := state.Change{Key: k2, First: 3, Horizon: t, Run: []state.Point{{T: t, V: state.Bad}}}
		batches = append(batches, []state.Change{c1, c2})
		dirty = append(dirty, map[signal.Key]state.Range{k1: {From: t, To: t + 50}, k2: {From: 50 - t, To: t}})
	}
	return batches, dirty
}

// saveDirect writes a batch into the buckets as Save did before the
// journal: the reference the journal must reproduce.
func saveDirect(s *Store, changes []state.Change, dirty map[signal.Key]state.Range) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		var a arena
		for _, c := range changes {
			b, err := tx.Bucket(bucketEquipment).CreateBucketIfNotExists(a.name(c.Key))
			if err != nil {
				return err
			}
			if err := putChange(bucketSink{b}, &a, c); err != nil {
				return err
			}
		}
		for k, r := range dirty {
			if err := widen(tx.Bucket(bucketDirty), eqName(k), r.From, r.To); err != nil {
				return err
			}
		}
		return nil
	})
}

func snapshot(t *testing.T, s *Store) (map[signal.Key]state.Saved, map[signal.Key]state.Range) {
	t.Helper()
	saved, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	pend, err := s.Pending()
	if err != nil {
		t.Fatal(err)
	}
	return saved, pend
}

// Batches saved through the journal, merged or not, load as the same
// timelines and pending ranges as batches written straight into the
// buckets; a store left with records in its journal (a hub killed between
// merges) opens with all of them; the journal never holds more than
// mergeEvery records.
func TestJournalEqualsDirectWrites(t *testing.T) {
	dir := t.TempDir()
	direct, err := Open(filepath.Join(dir, "direct.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	path := filepath.Join(dir, "journal.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	batches, dirty := journalBatches()
	for i := range batches {
		if err := saveDirect(direct, batches[i], dirty[i]); err != nil {
			t.Fatal(err)
		}
		if err := s.Save(batches[i], dirty[i]); err != nil {
			t.Fatal(err)
		}
		if err := s.db.View(func(tx *bolt.Tx) error {
			if n := journalLen(tx.Bucket(bucketJournal)); n >= mergeEvery {
				t.Fatalf("journal holds %d records", n)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// The file as a kill would leave it: records in the journal.
	var left uint64
	_ = s.db.View(func(tx *bolt.Tx) error { left = journalLen(tx.Bucket(bucketJournal)); return nil })
	if left == 0 {
		t.Fatal("nothing left in the journal: the test proves nothing")
	}
	killed := filepath.Join(dir, "killed.db")
	if err := s.Backup(killed); err != nil {
		t.Fatal(err)
	}
	wantSaved, wantPend := snapshot(t, direct)
	gotSaved, gotPend := snapshot(t, s)
	if !reflect.DeepEqual(gotSaved, wantSaved) || !reflect.DeepEqual(gotPend, wantPend) {
		t.Fatalf("through the journal:\n%+v\n%+v\nwant\n%+v\n%+v", gotSaved, gotPend, wantSaved, wantPend)
	}
	s.Close()
	r, err := Open(killed)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if gotSaved, gotPend := snapshot(t, r); !reflect.DeepEqual(gotSaved, wantSaved) || !reflect.DeepEqual(gotPend, wantPend) {
		t.Fatal("a store reopened with records in its journal differs")
	}
}

// Written merges the journal before it clears: a range saved after the
// flusher's snapshot, still in the journal, keeps the range pending.
func TestWrittenSeesTheJournal(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	k := signal.Key{Site: "s", Line: "L1", Equipment: "M1"}
	c := state.Change{Key: k, First: 0, Horizon: 10, Run: []state.Point{{T: 10, V: state.True}}}
	if err := s.Save([]state.Change{c}, map[signal.Key]state.Range{k: {From: 0, To: 10}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(nil, map[signal.Key]state.Range{k: {From: 5, To: 20}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Written(map[signal.Key]state.Range{k: {From: 0, To: 10}}); err != nil {
		t.Fatal(err)
	}
	if pend, err := s.Pending(); err != nil || pend[k] != (state.Range{From: 0, To: 20}) {
		t.Fatalf("pending %v %v", pend, err)
	}
}

// A journal record that does not decode is an error when the store opens,
// never a half-applied record.
func TestJournalRecordCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	k := signal.Key{Site: "s", Line: "L1", Equipment: "M1"}
	rec, err := record([]state.Change{{Key: k, Horizon: 1, Run: []state.Point{{T: 1, V: state.True}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{rec[:len(rec)-1], append(append([]byte(nil), rec...), 0), {2}, {}} {
		if err := s.db.Update(func(tx *bolt.Tx) error { return apply(tx, bad) }); !errors.Is(err, errJournal) {
			t.Fatalf("record %v: %v", bad, err)
		}
	}
	if err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketJournal).Put([]byte{0, 0, 0, 0, 0, 0, 0, 1}, rec[:len(rec)-2])
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(path); !errors.Is(err, errJournal) {
		t.Fatalf("opened with a bad record: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}
