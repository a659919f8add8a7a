package ledger

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
)

// Filter selects records; empty fields match everything.
type Filter struct {
	Type, Site, Line, Equipment, Status string
	// Since: changed at or after.
	Since time.Time
}

func (f Filter) match(r anomaly.Record) bool {
	return (f.Type == "" || r.Type == f.Type) && (f.Site == "" || r.Site == f.Site) &&
		(f.Line == "" || r.Line == f.Line) && (f.Equipment == "" || r.Equipment == f.Equipment) &&
		(f.Status == "" || r.Status == f.Status) && (f.Since.IsZero() || !r.Updated.Before(f.Since))
}

// List returns up to limit records matching f in the order of their latest
// change, after the cursor (empty: from the start). next is the cursor to
// continue from, also on the last page: following it is a change feed, where
// a record that changes again appears again, later. more reports whether
// further records matched when the page was taken.
func (s *Store) List(f Filter, cursor string, limit int) (recs []anomaly.Record, next string, more bool, err error) {
	var after uint64
	if cursor != "" {
		k, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || len(k) != 8 {
			return nil, "", false, fmt.Errorf("%w: bad cursor", ErrInvalid)
		}
		after = binary.BigEndian.Uint64(k)
	}
	if limit <= 0 {
		limit = 100
	}
	recs = []anomaly.Record{}
	pos := after
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketChanges).Cursor()
		for k, id := c.Seek(seqKey(after + 1)); k != nil; k, id = c.Next() {
			r, found, err := getRecord(tx, string(id))
			if err != nil {
				return err
			}
			if found && f.match(r) {
				if len(recs) == limit {
					more = true
					return nil
				}
				recs = append(recs, r)
			}
			pos = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	if err != nil {
		return nil, "", false, err
	}
	if pos != 0 {
		next = base64.RawURLEncoding.EncodeToString(seqKey(pos))
	}
	return recs, next, more, nil
}
