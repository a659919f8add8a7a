// Package store keeps the hub's state timelines durable in a bbolt file, so a
// restarted hub (even after SIGKILL) resumes where its acknowledged input left
// it. A batch of changes is written in one transaction; the hub acknowledges
// the batch's messages only after Save returned.
//
// Layout: bucket "equipment" holds one bucket per equipment named
// site NUL line NUL equipment, with key "span" (first and horizon, 2 x int64)
// and keys 'r' + big-endian int64 time -> 1 byte run flag.
package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

var (
	bucketEquipment = []byte("equipment")
	keySpan         = []byte("span")
)

// Store is the hub's durable state.
type Store struct {
	db *bolt.DB
}

// Open opens (or creates) the store at path.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening state store %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketEquipment)
		return err
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db}, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// Change is what one batch changed for one equipment.
type Change = state.Change

func eqName(k signal.Key) []byte {
	return []byte(k.Site + "\x00" + k.Line + "\x00" + k.Equipment)
}

func pointKey(t int64) []byte {
	b := make([]byte, 9)
	b[0] = 'r'
	binary.BigEndian.PutUint64(b[1:], uint64(t)^(1<<63)) // order-preserving for negative times too
	return b
}

// Save writes the changes in one transaction.
func (s *Store) Save(changes []Change) error {
	if len(changes) == 0 {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketEquipment)
		for _, c := range changes {
			b, err := root.CreateBucketIfNotExists(eqName(c.Key))
			if err != nil {
				return err
			}
			span := make([]byte, 16)
			binary.BigEndian.PutUint64(span[:8], uint64(c.First))
			binary.BigEndian.PutUint64(span[8:], uint64(c.Horizon))
			if err := b.Put(keySpan, span); err != nil {
				return err
			}
			for _, p := range c.Points {
				v := []byte{0}
				if p.Run {
					v[0] = 1
				}
				if err := b.Put(pointKey(p.T), v); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// Load reads every timeline.
func (s *Store) Load() (map[signal.Key]*state.Timeline, error) {
	out := map[signal.Key]*state.Timeline{}
	err := s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketEquipment)
		return root.ForEachBucket(func(name []byte) error {
			parts := bytes.Split(name, []byte{0})
			if len(parts) != 3 {
				return fmt.Errorf("state store: bad equipment bucket %q", name)
			}
			k := signal.Key{Site: string(parts[0]), Line: string(parts[1]), Equipment: string(parts[2])}
			b := root.Bucket(name)
			span := b.Get(keySpan)
			if len(span) != 16 {
				return fmt.Errorf("state store: %s has no span", k)
			}
			var pts []state.Point
			c := b.Cursor()
			for key, v := c.Seek([]byte{'r'}); key != nil && key[0] == 'r'; key, v = c.Next() {
				if len(key) != 9 || len(v) != 1 {
					return fmt.Errorf("state store: %s: bad point record", k)
				}
				pts = append(pts, state.Point{T: int64(binary.BigEndian.Uint64(key[1:]) ^ (1 << 63)), Run: v[0] == 1})
			}
			out[k] = state.Restore(int64(binary.BigEndian.Uint64(span[:8])), int64(binary.BigEndian.Uint64(span[8:])), pts)
			return nil
		})
	})
	return out, err
}
