package action

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketActions = []byte("actions")

// Keeper keeps actions: Store (a bbolt file, one hub's) or Bucket (a
// JetStream KeyValue bucket, the hubs of a partitioned deployment's).
type Keeper interface {
	Create(n New, by string, now time.Time) (Action, error)
	Get(id string) (Action, error)
	Update(id string, p Patch, by string, now time.Time) (Action, error)
	// List returns the actions matching f, newest first, at most MaxList.
	List(f Filter, loc *time.Location) ([]Action, error)
}

var _ Keeper = (*Store)(nil)

// Store keeps actions in a bbolt file, one JSON record per action under
// its id. Every change is one transaction: the action and its history are
// written together or not at all.
type Store struct {
	db *bolt.DB
}

// OpenStore opens (creating) the store at path.
func OpenStore(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketActions)
		return err
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.db.Close() }

// key orders actions by creation: the bucket's sequence, big-endian.
func key(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// ID is an action's id from its sequence number.
func ID(seq uint64) string { return fmt.Sprintf("A%06d", seq) }

func parseID(id string) (uint64, bool) {
	var seq uint64
	if _, err := fmt.Sscanf(id, "A%d", &seq); err != nil || ID(seq) != id {
		return 0, false
	}
	return seq, true
}

// Create stores a new action by who at now, status open.
func (s *Store) Create(n New, by string, now time.Time) (Action, error) {
	n, err := n.check()
	if err != nil {
		return Action{}, err
	}
	var a Action
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketActions)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		a = n.action(ID(seq), by, now)
		data, err := json.Marshal(a)
		if err != nil {
			return err
		}
		return b.Put(key(seq), data)
	})
	return a, err
}

// Get returns one action.
func (s *Store) Get(id string) (Action, error) {
	var a Action
	seq, ok := parseID(id)
	if !ok {
		return a, ErrNotFound
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketActions).Get(key(seq))
		if data == nil {
			return ErrNotFound
		}
		return json.Unmarshal(data, &a)
	})
	return a, err
}

// Update applies a patch by who at now; an empty patch changes nothing.
func (s *Store) Update(id string, p Patch, by string, now time.Time) (Action, error) {
	var a Action
	seq, ok := parseID(id)
	if !ok {
		return a, ErrNotFound
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketActions)
		data := b.Get(key(seq))
		if data == nil {
			return ErrNotFound
		}
		if err := json.Unmarshal(data, &a); err != nil {
			return err
		}
		changed, err := a.apply(p, by, now)
		if err != nil || !changed {
			return err
		}
		out, err := json.Marshal(a)
		if err != nil {
			return err
		}
		return b.Put(key(seq), out)
	})
	return a, err
}

// Filter selects actions; empty fields match everything.
type Filter struct {
	Status, Owner, Site, Line, Equipment, Kind string
	// Month (a local month [From, To)): actions created, due or done in it.
	From, To time.Time
}

func (f Filter) match(a Action, loc *time.Location) bool {
	if (f.Status != "" && a.Status != f.Status) || (f.Owner != "" && a.Owner != f.Owner) ||
		(f.Site != "" && a.Subject.Site != f.Site) || (f.Line != "" && a.Subject.Line != f.Line) ||
		(f.Equipment != "" && a.Subject.Equipment != f.Equipment) || (f.Kind != "" && a.Subject.Kind != f.Kind) {
		return false
	}
	if f.From.IsZero() {
		return true
	}
	in := func(t time.Time) bool { return !t.Before(f.From) && t.Before(f.To) }
	if in(a.CreatedAt) || (a.DoneAt != nil && in(*a.DoneAt)) {
		return true
	}
	d, err := time.ParseInLocation("2006-01-02", a.Due, loc)
	return err == nil && in(d)
}

// MaxList bounds how many actions a list returns.
const MaxList = 1000

// List returns the actions matching f, newest first, at most MaxList.
func (s *Store) List(f Filter, loc *time.Location) ([]Action, error) {
	out := []Action{}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketActions).Cursor()
		for k, v := c.Last(); k != nil && len(out) < MaxList; k, v = c.Prev() {
			var a Action
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("action %x: %w", k, err)
			}
			if f.match(a, loc) {
				out = append(out, a)
			}
		}
		return nil
	})
	return out, err
}
