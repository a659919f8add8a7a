package ledger

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DeadLetter is a delivery given up after its last attempt.
type DeadLetter struct {
	Seq       uint64    `json:"seq"`
	Endpoint  string    `json:"endpoint"`
	ID        string    `json:"webhook_id"`
	RecordID  string    `json:"record_id"`
	Revision  uint64    `json:"revision"`
	Kind      string    `json:"kind"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error"`
	Created   time.Time `json:"created"`
	FailedAt  time.Time `json:"failed_at"`
}

// DeadLetters lists up to limit dead letters with a sequence above after, oldest first.
func (s *Store) DeadLetters(after uint64, limit int) ([]DeadLetter, error) {
	out := []DeadLetter{}
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDeadLetters).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			var it Item
			if err := json.Unmarshal(v, &it); err != nil {
				return fmt.Errorf("events store: bad dead letter %x: %w", k, err)
			}
			out = append(out, DeadLetter{Seq: it.Seq, Endpoint: it.Dest, ID: it.ID, RecordID: it.RecordID, Revision: it.Revision,
				Kind: it.Kind, Attempts: it.Attempts, LastError: it.LastError, Created: it.Created, FailedAt: it.FailedAt})
		}
		return nil
	})
	return out, err
}

// Redeliver moves a dead letter back into the outbox, with its attempts reset.
func (s *Store) Redeliver(seq uint64, now time.Time) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		dl := tx.Bucket(bucketDeadLetters)
		v := dl.Get(seqKey(seq))
		if v == nil {
			return fmt.Errorf("%w: dead letter %d", ErrNotFound, seq)
		}
		var it Item
		if err := json.Unmarshal(v, &it); err != nil {
			return err
		}
		if !s.known(it.Dest) {
			return fmt.Errorf("%w: endpoint %q is no longer configured", ErrConflict, it.Dest)
		}
		it.Attempts, it.NextAt, it.FailedAt = 0, now.UTC(), time.Time{}
		nv, err := json.Marshal(it)
		if err != nil {
			return err
		}
		b, err := tx.Bucket(bucketOutbox).CreateBucketIfNotExists([]byte(it.Dest))
		if err != nil {
			return err
		}
		if err := b.Put(seqKey(seq), nv); err != nil {
			return err
		}
		return dl.Delete(seqKey(seq))
	})
	if err == nil {
		s.wakeAll()
	}
	return err
}

// Orphans moves the outbox items of destinations no longer configured to
// the dead letters.
func (s *Store) Orphans(now time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketOutbox)
		var gone [][]byte
		err := root.ForEachBucket(func(name []byte) error {
			if !s.known(string(name)) {
				gone = append(gone, append([]byte(nil), name...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, name := range gone {
			n, err := bury(tx, name, now)
			if err != nil {
				return err
			}
			s.log.Warn("outbox of a removed endpoint moved to the dead letters", "endpoint", string(name), "items", n)
		}
		return nil
	})
}

// bury moves the outbox of dest to the dead letters; it returns how many
// items it moved.
func bury(tx *bolt.Tx, dest []byte, now time.Time) (int, error) {
	root := tx.Bucket(bucketOutbox)
	n := 0
	err := root.Bucket(dest).ForEach(func(k, v []byte) error {
		var it Item
		if err := json.Unmarshal(v, &it); err != nil {
			return err
		}
		it.LastError, it.FailedAt = "endpoint no longer configured", now.UTC()
		nv, err := json.Marshal(it)
		if err != nil {
			return err
		}
		n++
		return tx.Bucket(bucketDeadLetters).Put(k, nv)
	})
	if err != nil {
		return 0, err
	}
	return n, root.DeleteBucket(dest)
}
