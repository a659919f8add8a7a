package ledger

import (
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
)

// SkipImported marks the alert of an imported record: the hub that
// published the record handled its alert, so this store does not alert
// for it again.
const SkipImported = "imported"

// Import takes records that another hub published (the events of a
// partition this hub takes over): a record newer than the one kept (or
// unknown) is stored without any delivery, and its alert counts as handled.
// Detecting the same events again then changes nothing, so a takeover
// neither repeats an alert nor republishes what was published. It returns
// how many records it stored.
func (s *Store) Import(recs []anomaly.Record) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		n = 0
		for _, rec := range recs {
			if rec.ID == "" {
				continue
			}
			old, found, err := getRecord(tx, rec.ID)
			if err != nil {
				return err
			}
			if found && old.Revision >= rec.Revision {
				continue
			}
			rec.Event = normalize(rec.Event)
			if err := putRecord(tx, rec); err != nil {
				return err
			}
			if alert.Alerted(rec.Type) && tx.Bucket(bucketAlerts).Get([]byte(rec.ID)) == nil {
				st, _ := json.Marshal(alert.State{Phase: alert.PhaseSkipped, Skip: SkipImported})
				if err := tx.Bucket(bucketAlerts).Put([]byte(rec.ID), st); err != nil {
					return err
				}
			}
			n++
		}
		return nil
	})
	return n, err
}
