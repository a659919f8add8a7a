package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	bolt "go.etcd.io/bbolt"
)

// item is one delivery waiting in the outbox (or dead in the dead letters).
type item struct {
	// Seq orders the outbox; it is the item's key.
	Seq uint64 `json:"seq"`
	// Dest is "stream" or an endpoint name.
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

func enqueue(tx *bolt.Tx, dest string, it item, now time.Time) error {
	root := tx.Bucket(bucketOutbox)
	b, err := root.CreateBucketIfNotExists([]byte(dest))
	if err != nil {
		return err
	}
	seq, err := root.NextSequence()
	if err != nil {
		return err
	}
	// Due at once: NextAt is set by failed attempts only.
	it.Seq, it.Dest, it.Created, it.NextAt = seq, dest, now.UTC(), time.Time{}
	v, err := json.Marshal(it)
	if err != nil {
		return err
	}
	return b.Put(seqKey(seq), v)
}

// due returns up to n items of dest due at now, in order, and the earliest
// due time of the others (zero: none).
func (s *Store) due(dest string, now time.Time, n int) ([]item, time.Time, error) {
	var out []item
	var next time.Time
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox).Bucket([]byte(dest))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var it item
			if err := json.Unmarshal(v, &it); err != nil {
				return fmt.Errorf("events store: bad outbox item %x: %w", k, err)
			}
			if !it.NextAt.After(now) {
				if len(out) < n {
					out = append(out, it)
				} else if next.IsZero() || it.NextAt.Before(next) {
					next = it.NextAt
				}
			} else if next.IsZero() || it.NextAt.Before(next) {
				next = it.NextAt
			}
			return nil
		})
	})
	return out, next, err
}

// delivered removes a delivered item.
func (s *Store) delivered(it item) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketOutbox).Bucket([]byte(it.Dest)); b != nil {
			return b.Delete(seqKey(it.Seq))
		}
		return nil
	})
}

// errPermanent marks a failure that retrying cannot fix.
var errPermanent = errors.New("permanent failure")

// failed records a failed attempt: the item is retried after a back-off, or
// moved to the dead letters after maxAttempts (0: never) or a permanent
// failure. It reports whether the item is dead.
func (s *Store) failed(it item, cause error, maxAttempts int, now time.Time) (bool, error) {
	it.Attempts++
	it.LastError = cause.Error()
	dead := errors.Is(cause, errPermanent) || (maxAttempts > 0 && it.Attempts >= maxAttempts)
	if dead {
		it.FailedAt = now.UTC()
	} else {
		it.NextAt = now.Add(s.backoff(it.Attempts)).UTC()
	}
	v, err := json.Marshal(it)
	if err != nil {
		return false, err
	}
	return dead, s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox).Bucket([]byte(it.Dest))
		if b == nil || b.Get(seqKey(it.Seq)) == nil {
			return nil // gone meanwhile (retried from the dead letters, say)
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

// backoff is the wait after the n-th failed attempt: exponential from
// RetryMin, capped at RetryMax, with the upper half jittered.
func (s *Store) backoff(n int) time.Duration {
	d := s.opts.RetryMin
	for i := 1; i < n && d < s.opts.RetryMax; i++ {
		d *= 2
	}
	d = min(d, s.opts.RetryMax)
	half := d / 2
	return half + rand.N(half+1)
}

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
			var it item
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
		var it item
		if err := json.Unmarshal(v, &it); err != nil {
			return err
		}
		if _, ok := s.endpoints[it.Dest]; !ok && it.Dest != destStream {
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

// orphans moves outbox items of endpoints no longer configured to the dead letters.
func (s *Store) orphans(now time.Time) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketOutbox)
		var gone [][]byte
		err := root.ForEachBucket(func(name []byte) error {
			if _, ok := s.endpoints[string(name)]; !ok && string(name) != destStream {
				gone = append(gone, append([]byte(nil), name...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, name := range gone {
			n := 0
			err := root.Bucket(name).ForEach(func(k, v []byte) error {
				var it item
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
				return err
			}
			if err := root.DeleteBucket(name); err != nil {
				return err
			}
			s.log.Warn("outbox of a removed endpoint moved to the dead letters", "endpoint", string(name), "items", n)
		}
		return nil
	})
}
