package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
)

// stepAlert advances a downtime record's alert inside tx: it loads the
// kept state, has the Alerter step it, enqueues the notifications due, and
// stores the new state and its timer.
func (s *Store) stepAlert(tx *bolt.Tx, rec anomaly.Record, now time.Time) error {
	if !alert.Alerted(rec.Type) || s.opts.Alerter == nil {
		return nil
	}
	ab := tx.Bucket(bucketAlerts)
	var st alert.State
	if v := ab.Get([]byte(rec.ID)); v != nil {
		if err := json.Unmarshal(v, &st); err != nil {
			return fmt.Errorf("events store: bad alert state %q: %w", rec.ID, err)
		}
	}
	if st.Phase == alert.PhaseDone || st.Phase == alert.PhaseSkipped {
		return nil
	}
	next, items, err := s.opts.Alerter.Step(st, rec, now)
	if err != nil {
		return err
	}
	for _, it := range items {
		if err := enqueue(tx, it, now); err != nil {
			return err
		}
	}
	if len(items) == 0 && st.Phase != alert.PhaseNone && equalState(st, next) {
		return nil
	}
	v, err := json.Marshal(next)
	if err != nil {
		return err
	}
	if err := ab.Put([]byte(rec.ID), v); err != nil {
		return err
	}
	tb := tx.Bucket(bucketTimers)
	if t := st.Next(); !t.IsZero() {
		if err := tb.Delete(timerKey(t, rec.ID)); err != nil {
			return err
		}
	}
	if t := next.Next(); !t.IsZero() {
		return tb.Put(timerKey(t, rec.ID), nil)
	}
	return nil
}

func equalState(a, b alert.State) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// Due runs the alert timers (escalations, repeats) due at now, in one
// transaction.
func (s *Store) Due(now time.Time) error {
	// Look first, so an idle hub does not commit (and fsync) every poll.
	var due bool
	if err := s.db.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketTimers).Cursor().First()
		due = k != nil && bytes.Compare(k[:8], timerKey(now, "")) <= 0
		return nil
	}); err != nil || !due {
		return err
	}
	fired := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		fired, err = s.fire(tx, now)
		return err
	})
	if err == nil && fired {
		s.wakeAll()
	}
	return err
}

// fire steps the alerts whose timers are due at now; it reports whether any was.
func (s *Store) fire(tx *bolt.Tx, now time.Time) (bool, error) {
	fired := false
	c := tx.Bucket(bucketTimers).Cursor()
	limit := timerKey(now, "")
	var keys [][]byte
	for k, _ := c.First(); k != nil && bytes.Compare(k[:8], limit[:8]) <= 0; k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		// The step stores the next timer, if any.
		if err := tx.Bucket(bucketTimers).Delete(k); err != nil {
			return false, err
		}
		rec, found, err := getRecord(tx, string(k[8:]))
		if err != nil {
			return false, err
		}
		if !found {
			continue
		}
		if err := s.stepAlert(tx, rec, now); err != nil {
			return false, err
		}
		fired = true
	}
	return fired, nil
}
