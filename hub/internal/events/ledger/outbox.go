package ledger

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Item is one delivery waiting in the outbox (or dead in the dead letters).
type Item struct {
	// Seq orders the outbox; it is the item's key.
	Seq uint64 `json:"seq"`
	// Dest is the destination: the stream or a webhook endpoint.
	Dest string `json:"dest"`
	// ID is the dedupe key: Nats-Msg-Id, webhook-id.
	ID string `json:"id"`
	// Subject is the NATS subject (stream items).
	Subject     string `json:"subject,omitempty"`
	ContentType string `json:"content_type"`
	Body        []byte `json:"body"`
	RecordID    string `json:"record_id"`
	Revision    uint64 `json:"revision"`
	// Kind is the record change or, for alerts, "alert." and the notification kind.
	Kind      string    `json:"kind"`
	Created   time.Time `json:"created"`
	Attempts  int       `json:"attempts"`
	NextAt    time.Time `json:"next_at"`
	LastError string    `json:"last_error,omitempty"`
	FailedAt  time.Time `json:"failed_at,omitzero"`
}

// enqueue adds it to the outbox of it.Dest, due at once.
func enqueue(tx *bolt.Tx, it Item, now time.Time) error {
	root := tx.Bucket(bucketOutbox)
	b, err := root.CreateBucketIfNotExists([]byte(it.Dest))
	if err != nil {
		return err
	}
	seq, err := root.NextSequence()
	if err != nil {
		return err
	}
	// Due at once: NextAt is set by failed attempts only.
	it.Seq, it.Created, it.NextAt = seq, now.UTC(), time.Time{}
	v, err := json.Marshal(it)
	if err != nil {
		return err
	}
	return b.Put(seqKey(seq), v)
}

// Ready returns up to n items of dest due at now, in order, and the
// earliest due time of the others (zero: none).
func (s *Store) Ready(dest string, now time.Time, n int) ([]Item, time.Time, error) {
	var out []Item
	var next time.Time
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox).Bucket([]byte(dest))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var it Item
			if err := json.Unmarshal(v, &it); err != nil {
				return fmt.Errorf("events store: bad outbox item %x: %w", k, err)
			}
			if !it.NextAt.After(now) && len(out) < n {
				out = append(out, it)
			} else if next.IsZero() || it.NextAt.Before(next) {
				next = it.NextAt
			}
			return nil
		})
	})
	return out, next, err
}

// Delivered removes a delivered item.
func (s *Store) Delivered(it Item) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketOutbox).Bucket([]byte(it.Dest)); b != nil {
			return b.Delete(seqKey(it.Seq))
		}
		return nil
	})
}

// Failed stores a failed attempt, it as the deliverer updated it (attempts,
// error, next or failed time): dead, it moves to the dead letters; else it
// stays in the outbox. An item gone meanwhile (retried from the dead
// letters, say) is left alone.
func (s *Store) Failed(it Item, dead bool) error {
	v, err := json.Marshal(it)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox).Bucket([]byte(it.Dest))
		if b == nil || b.Get(seqKey(it.Seq)) == nil {
			return nil
		}
		if dead {
			if err := b.Delete(seqKey(it.Seq)); err != nil {
				return err
			}
			return tx.Bucket(bucketDeadLetters).Put(seqKey(it.Seq), v)
		}
		return b.Put(seqKey(it.Seq), v)
	})
}

// Pending counts the outbox items per destination.
func (s *Store) Pending() (map[string]int, error) {
	out := map[string]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOutbox).ForEachBucket(func(name []byte) error {
			out[string(name)] = tx.Bucket(bucketOutbox).Bucket(name).Stats().KeyN
			return nil
		})
	})
	return out, err
}
