package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
)

// stepAlert advances a record's alert inside tx: it loads the kept state,
// steps it, enqueues the notifications due, and stores the new state and
// its timer.
func (s *Store) stepAlert(tx *bolt.Tx, rec anomaly.Record, now time.Time) error {
	if rec.Type != anomaly.UnplannedDowntime {
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
	next, notes := s.opts.Alerts.Step(st, rec, s.opts.Calendar(rec.Site, rec.Line), now)
	if st.Phase == alert.PhaseNone && next.Phase == alert.PhaseSkipped && next.Skip != alert.SkipDisabled {
		s.log.Info("downtime not alerted", "event", rec.ID, "line", rec.Line, "equipment", rec.Equipment, "why", next.Skip)
	}
	for _, n := range notes {
		if n.Reason == alert.ReasonNoLeaders {
			s.log.Warn("no shift leader on duty: escalating at once", "event", rec.ID, "line", rec.Line, "shift", n.Shift, "to", n.People)
		}
		e, ok := s.endpoints[n.Channel]
		if !ok {
			s.log.Error("alert channel is not a webhook endpoint", "channel", n.Channel, "event", rec.ID, "people", n.People)
			continue
		}
		it, err := s.alertItem(e, rec, n, now)
		if err != nil {
			return err
		}
		if err := enqueue(tx, e.Name, it, now); err != nil {
			return err
		}
	}
	if len(notes) == 0 && st.Phase != alert.PhaseNone && equalState(st, next) {
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
// transaction. Run calls it every poll interval with the store's clock.
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
		fired = false
		c := tx.Bucket(bucketTimers).Cursor()
		limit := timerKey(now, "")
		var keys [][]byte
		for k, _ := c.First(); k != nil && bytes.Compare(k[:8], limit[:8]) <= 0; k, _ = c.Next() {
			keys = append(keys, append([]byte(nil), k...))
		}
		for _, k := range keys {
			// The step stores the next timer, if any.
			if err := tx.Bucket(bucketTimers).Delete(k); err != nil {
				return err
			}
			id := string(k[8:])
			rec, found, err := getRecord(tx, id)
			if err != nil {
				return err
			}
			if !found {
				continue
			}
			if err := s.stepAlert(tx, rec, now); err != nil {
				return err
			}
			fired = true
		}
		return nil
	})
	if err == nil && fired {
		s.wakeAll()
	}
	return err
}
