package ledger

import (
	"bytes"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
)

// ApplyGauges is Apply that also saves the given gauge detector states (by
// gauge key) in the same transaction: the states are exactly as durable as
// the events they produced, so a detector restored after a crash has seen
// every sample whose events are stored, and no other. Gauge states are
// never pruned.
func (s *Store) ApplyGauges(detected []anomaly.Event, states map[string][]byte, now time.Time) ([]anomaly.Record, error) {
	return s.apply(detected, now, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketGauges)
		for k, v := range states {
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// GaugeState returns the saved state of a gauge; ok is false when there is
// none.
func (s *Store) GaugeState(key string) (state []byte, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketGauges).Get([]byte(key)); v != nil {
			state, ok = bytes.Clone(v), true
		}
		return nil
	})
	return state, ok, err
}
