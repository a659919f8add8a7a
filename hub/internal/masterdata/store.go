package masterdata

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Layout of the store: one bucket per entity, mapping a record's key to its
// current version (stored, JSON); bucket "audit" maps a big-endian sequence
// number to a change (Change, JSON), oldest first.
var bucketAudit = []byte("audit")

// Stored is a record's current version.
type Stored struct {
	Record  Record    `json:"record"`
	Version int       `json:"version"`
	At      time.Time `json:"at"`
	By      string    `json:"by"`
}

// Change is one record added or changed by an import: the audit log's entry.
type Change struct {
	Seq    uint64    `json:"seq,omitempty"`
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Entity Entity    `json:"entity"`
	Key    string    `json:"key"`
	// Version is the record's version after the change (1: added).
	Version int `json:"version"`
	// Before is nil for a record added.
	Before Record `json:"before,omitempty"`
	After  Record `json:"after"`
}

// Diff is what an import changes: the records added or changed (in key
// order) and how many it leaves as they were.
type Diff struct {
	Entity    Entity   `json:"entity"`
	Changes   []Change `json:"changes"`
	Added     int      `json:"added"`
	Changed   int      `json:"changed"`
	Unchanged int      `json:"unchanged"`
}

// count counts r, the record of key k, in d against the version stored
// under k (st, when stored), and returns the change it makes, or false
// when it changes nothing.
func (d *Diff) count(k string, r Record, st Stored, stored bool, by string, at time.Time) (Change, bool) {
	c := Change{At: at.UTC(), By: by, Entity: d.Entity, Key: k, Version: 1, After: r}
	switch {
	case !stored:
		d.Added++
	case maps.Equal(st.Record, r):
		d.Unchanged++
		return c, false
	default:
		c.Before, c.Version = st.Record, st.Version+1
		d.Changed++
	}
	return c, true
}

// Store keeps the master data records and their audit log.
type Store struct {
	db *bolt.DB
}

// Open opens (or creates) the master data store at path.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("master data store %s is locked by another process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening master data store %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, e := range Entities {
			if _, err := tx.CreateBucketIfNotExists([]byte(e)); err != nil {
				return err
			}
		}
		_, err := tx.CreateBucketIfNotExists(bucketAudit)
		return err
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db}, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Records returns an entity's current records, sorted by key.
func (s *Store) Records(e Entity) ([]Record, error) {
	spec, ok := SpecOf(e)
	if !ok {
		return nil, fmt.Errorf("unknown entity %q", e)
	}
	var out []Record
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(e))
		if b == nil {
			return nil // a store read only, from before the entity existed
		}
		return b.ForEach(func(_, v []byte) error {
			var st Stored
			if err := json.Unmarshal(v, &st); err != nil {
				return err
			}
			out = append(out, st.Record)
			return nil
		})
	})
	return sortRecords(spec, out), err
}

// Apply upserts records as one transaction: a record whose key is new is
// added, one whose fields differ replaces the stored one (a new version),
// an equal one is left alone; records not named stay as they are. Each
// change is audited with by and at. With dryRun nothing is written and
// the diff says what would change. check, when not nil, is called inside
// the transaction with the diff before anything is written: its error
// aborts the apply.
func (s *Store) Apply(e Entity, recs []Record, by string, at time.Time, dryRun bool, check func(Diff) error) (Diff, error) {
	spec, ok := SpecOf(e)
	if !ok {
		return Diff{}, fmt.Errorf("unknown entity %q", e)
	}
	d := Diff{Entity: e, Changes: []Change{}}
	fn := func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(e))
		for _, r := range sortRecords(spec, recs) {
			k := spec.KeyOf(r)
			var st Stored
			v := b.Get([]byte(k))
			if v != nil {
				if err := json.Unmarshal(v, &st); err != nil {
					return fmt.Errorf("record %s/%s: %w", e, k, err)
				}
			}
			if c, ok := d.count(k, r, st, v != nil, by, at); ok {
				d.Changes = append(d.Changes, c)
			}
		}
		if check != nil {
			if err := check(d); err != nil {
				return err
			}
		}
		if dryRun {
			return nil
		}
		audit := tx.Bucket(bucketAudit)
		for i, c := range d.Changes {
			v, err := json.Marshal(Stored{Record: c.After, Version: c.Version, At: c.At, By: c.By})
			if err != nil {
				return err
			}
			if err := b.Put([]byte(c.Key), v); err != nil {
				return err
			}
			seq, err := audit.NextSequence()
			if err != nil {
				return err
			}
			c.Seq = seq
			a, err := json.Marshal(c)
			if err != nil {
				return err
			}
			if err := audit.Put(binary.BigEndian.AppendUint64(nil, seq), a); err != nil {
				return err
			}
			d.Changes[i] = c
		}
		return nil
	}
	var err error
	if dryRun {
		err = s.db.View(fn)
	} else {
		err = s.db.Update(fn)
	}
	return d, err
}

// Audit returns up to limit changes with a sequence number above after,
// oldest first.
func (s *Store) Audit(after uint64, limit int) ([]Change, error) {
	out := []Change{}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Seek(binary.BigEndian.AppendUint64(nil, after+1)); k != nil && len(out) < limit; k, v = c.Next() {
			var ch Change
			if err := json.Unmarshal(v, &ch); err != nil {
				return err
			}
			out = append(out, ch)
		}
		return nil
	})
	return out, err
}

// AuditLast returns the latest n changes, oldest first.
func (s *Store) AuditLast(n int) ([]Change, error) {
	out := []Change{}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			var ch Change
			if err := json.Unmarshal(v, &ch); err != nil {
				return err
			}
			out = append(out, ch)
		}
		return nil
	})
	slices.Reverse(out)
	return out, err
}
