package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Retention: bucket "retention" holds "floor", the instant below which the
// hub restates nothing (engine.Engine.SetFloor). It is stored with the
// timelines, so a restarted hub, or the next holder of a partition, sets
// aside the same old signals; it only rises.
var (
	bucketRetention = []byte("retention")
	keyFloor        = []byte("floor")
)

// Floor returns the stored floor (0: none).
func (s *Store) Floor() (int64, error) {
	var floor int64
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketRetention); b != nil {
			if v := b.Get(keyFloor); len(v) == 8 {
				floor = getTime(v)
			}
		}
		return nil
	})
	return floor, err
}

// Trimmed says what a Trim did.
type Trimmed struct {
	Equipment int // timelines that changed
	Records   int // records deleted
}

// Trim raises the stored floor to floor, then trims every stored timeline
// at before (state.Timeline.Trim), one transaction per equipment: its
// records before the cut are deleted and those the trimmed timeline moved
// to the cut written. A trim cut short leaves every timeline either trimmed
// or whole, and the next one finishes it.
func (s *Store) Trim(before, floor int64) (Trimmed, error) {
	var out Trimmed
	err := s.db.Update(func(tx *bolt.Tx) error {
		if err := mergeTx(tx); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bucketRetention)
		if err != nil {
			return err
		}
		if v := b.Get(keyFloor); len(v) == 8 && getTime(v) >= floor {
			return nil
		}
		v := make([]byte, 8)
		putTime(v, floor)
		return b.Put(keyFloor, v)
	})
	if err != nil {
		return out, fmt.Errorf("storing the retention floor: %w", err)
	}
	var names [][]byte
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEquipment).ForEachBucket(func(name []byte) error {
			names = append(names, append([]byte(nil), name...))
			return nil
		})
	})
	if err != nil {
		return out, err
	}
	for _, name := range names {
		k, err := parseName(name)
		if err != nil {
			return out, err
		}
		var n int
		err = s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketEquipment).Bucket(name)
			if b == nil {
				return nil
			}
			n, err = trimBucket(k, b, before)
			return err
		})
		if err != nil {
			return out, fmt.Errorf("trimming %s: %w", k, err)
		}
		if n > 0 {
			out.Equipment++
			out.Records += n
		}
	}
	return out, nil
}

// trimBucket trims the timeline of k stored in b at before; it returns how
// many records it deleted.
func trimBucket(k signal.Key, b *bolt.Bucket, before int64) (int, error) {
	sv, err := load(k, b)
	if err != nil {
		return 0, err
	}
	tl := state.Restore(0, sv)
	cut, changed := tl.Trim(before)
	if !changed {
		return 0, nil
	}
	// Collect first: deleting while iterating can skip keys.
	var old [][]byte
	c := b.Cursor()
	for key, v := c.First(); key != nil; key, v = c.Next() {
		if len(key) < 9 {
			continue // the span
		}
		drop := getTime(key[1:9]) < cut
		if key[0] == 'l' && len(v) == 8 {
			drop = getTime(v) <= cut // a silence goes when it ends by the cut
		}
		if drop {
			old = append(old, append([]byte(nil), key...))
		}
	}
	for _, key := range old {
		if err := b.Delete(key); err != nil {
			return 0, err
		}
	}
	// What the trimmed timeline holds at the cut: the last observations
	// before it, moved there, and the lost ranges cut there.
	at := tl.Save()
	c2 := state.Change{Key: k, First: at.First, Horizon: at.Horizon,
		Run:    atCut(at.Run, cut, func(p state.Point) int64 { return p.T }),
		Alarm:  atCut(at.Alarm, cut, func(p state.AlarmPoint) int64 { return p.T }),
		State:  atCut(at.State, cut, func(p state.StatePoint) int64 { return p.T }),
		Count:  atCut(at.Count, cut, func(p state.Count) int64 { return p.T }),
		Scrap:  atCut(at.Scrap, cut, func(p state.Count) int64 { return p.T }),
		Power:  atCut(at.Power, cut, func(p state.Count) int64 { return p.T }),
		Energy: atCut(at.Energy, cut, func(p state.Count) int64 { return p.T }),
		Ops:    atCut(at.Ops, cut, func(e state.OpEvent) int64 { return e.T }),
		Gaps:   atCut(at.Gaps, cut, func(g state.Interval) int64 { return g.Start }),
		Pieces: atCut(at.Pieces, cut, func(p state.Piece) int64 { return p.T }),
	}
	return len(old), putChange(bucketSink{b}, &arena{}, c2)
}

// atCut is the elements of xs whose time is the cut.
func atCut[T any](xs []T, cut int64, at func(T) int64) []T {
	var out []T
	for _, x := range xs {
		if at(x) == cut {
			out = append(out, x)
		}
	}
	return out
}
