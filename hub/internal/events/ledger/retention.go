package ledger

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
)

// pruneBatch bounds the deletions of one transaction.
const pruneBatch = 5000

// Pruned says what a Prune deleted.
type Pruned struct {
	Records     int
	DeadLetters int
}

// Prune deletes the resolved records whose latest change is older than
// records, with their alert state, and the dead letters that failed before
// deadLetters; a zero time deletes none of that kind. Open and acknowledged
// records are kept however old, and the outbox is never touched: its items
// are the delivery guarantee, and each carries its own body, so a record
// deleted while one of its deliveries waits is still delivered. Deletions
// are committed in transactions of at most pruneBatch.
func (s *Store) Prune(records, deadLetters time.Time) (Pruned, error) {
	var out Pruned
	if !records.IsZero() {
		for {
			n, more, err := s.pruneRecords(records)
			out.Records += n
			if err != nil {
				return out, err
			}
			if !more {
				break
			}
		}
	}
	if !deadLetters.IsZero() {
		for {
			n, more, err := s.pruneDeadLetters(deadLetters)
			out.DeadLetters += n
			if err != nil {
				return out, err
			}
			if !more {
				break
			}
		}
	}
	return out, nil
}

// pruneRecords deletes up to pruneBatch resolved records changed before
// cutoff. The change order is the order of the latest changes, so the walk
// stops at the first record changed at or after cutoff.
func (s *Store) pruneRecords(cutoff time.Time) (n int, more bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		n, more = 0, false
		var seqs, ids [][]byte
		c := tx.Bucket(bucketChanges).Cursor()
		for k, id := c.First(); k != nil; k, id = c.Next() {
			if len(ids) == pruneBatch {
				more = true
				break
			}
			rec, found, err := getRecord(tx, string(id))
			if err != nil {
				return err
			}
			if found && !rec.Updated.Before(cutoff) {
				break
			}
			if found && rec.Status != anomaly.Resolved {
				continue
			}
			seqs = append(seqs, append([]byte(nil), k...))
			ids = append(ids, append([]byte(nil), id...))
		}
		for i, id := range ids {
			if err := tx.Bucket(bucketChanges).Delete(seqs[i]); err != nil {
				return err
			}
			if err := deleteRecord(tx, id); err != nil {
				return err
			}
		}
		n = len(ids)
		return nil
	})
	return n, more, err
}

// deleteRecord deletes a record, its change index and its alert state (a
// resolved record's alert is finished, but a timer left behind goes too).
func deleteRecord(tx *bolt.Tx, id []byte) error {
	if err := tx.Bucket(bucketRecords).Delete(id); err != nil {
		return err
	}
	if err := tx.Bucket(bucketChangeOf).Delete(id); err != nil {
		return err
	}
	ab := tx.Bucket(bucketAlerts)
	if v := ab.Get(id); v != nil {
		var st alert.State
		if err := json.Unmarshal(v, &st); err != nil {
			return fmt.Errorf("events store: bad alert state %q: %w", id, err)
		}
		if t := st.Next(); !t.IsZero() {
			if err := tx.Bucket(bucketTimers).Delete(timerKey(t, string(id))); err != nil {
				return err
			}
		}
		return ab.Delete(id)
	}
	return nil
}

// pruneDeadLetters deletes up to pruneBatch dead letters that failed
// before cutoff.
func (s *Store) pruneDeadLetters(cutoff time.Time) (n int, more bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		n, more = 0, false
		b := tx.Bucket(bucketDeadLetters)
		var old [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(old) == pruneBatch {
				more = true
				break
			}
			var it Item
			if err := json.Unmarshal(v, &it); err != nil {
				return fmt.Errorf("events store: bad dead letter %x: %w", k, err)
			}
			if it.FailedAt.Before(cutoff) {
				old = append(old, append([]byte(nil), k...))
			}
		}
		for _, k := range old {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(old)
		return nil
	})
	return n, more, err
}
