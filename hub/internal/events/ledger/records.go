package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/events/payload"
)

// Apply records detected events, in one transaction: a new id opens a record
// (already resolved when its event has ended), an open record whose event
// ended is resolved by the data, other changes of the event (evidence,
// severity, end) make a new revision, and an unchanged re-detection is a
// no-op. Every change enqueues its deliveries and alerts. It returns the
// records that changed.
func (s *Store) Apply(detected []anomaly.Event, now time.Time) ([]anomaly.Record, error) {
	return s.apply(detected, now, nil)
}

// apply is Apply, also running also(tx) inside its transaction.
func (s *Store) apply(detected []anomaly.Event, now time.Time, also func(*bolt.Tx) error) ([]anomaly.Record, error) {
	var changed []anomaly.Record
	err := s.db.Update(func(tx *bolt.Tx) error {
		changed = changed[:0]
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		for _, e := range detected {
			if e.ID == "" {
				return fmt.Errorf("events: detected %s event of %s/%s/%s has no id", e.Type, e.Site, e.Line, e.Equipment)
			}
			e = normalize(e)
			old, found, err := getRecord(tx, e.ID)
			if err != nil {
				return err
			}
			if found && sameEvent(old.Event, e) {
				continue
			}
			rec, kind := detectedChange(old, found, e)
			rec.Updated = now.UTC()
			if err := s.change(tx, rec, kind, now); err != nil {
				return err
			}
			changed = append(changed, rec)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(changed) > 0 {
		s.wakeAll()
	}
	return changed, nil
}

// detectedChange is the record, and the kind of change, that a detection
// e makes of the record old (found: whether there is one).
func detectedChange(old anomaly.Record, found bool, e anomaly.Event) (anomaly.Record, string) {
	if !found {
		rec := anomaly.Record{Event: e, Status: anomaly.Opened, Revision: 1}
		if e.End != nil {
			rec.Status, rec.ResolvedAt = anomaly.Resolved, e.End
			return rec, payload.ChangeResolved
		}
		return rec, payload.ChangeOpened
	}
	rec := old
	rec.Event = e
	rec.Revision++
	if e.End != nil && old.Status != anomaly.Resolved {
		rec.Status, rec.ResolvedBy, rec.ResolvedAt = anomaly.Resolved, "", e.End
		return rec, payload.ChangeResolved
	}
	return rec, payload.ChangeUpdated
}

// Ack acknowledges an open record: who did and an optional note.
func (s *Store) Ack(id, by, note string, now time.Time) (anomaly.Record, error) {
	return s.lifecycle(id, by, note, now, func(r *anomaly.Record) (string, error) {
		switch r.Status {
		case anomaly.Acknowledged:
			return "", fmt.Errorf("%w: already acknowledged by %s", ErrConflict, r.AcknowledgedBy)
		case anomaly.Resolved:
			return "", fmt.Errorf("%w: already resolved", ErrConflict)
		}
		at := now.UTC()
		r.Status, r.AcknowledgedBy, r.AcknowledgedAt = anomaly.Acknowledged, by, &at
		return payload.ChangeAcknowledged, nil
	})
}

// Resolve resolves an open or acknowledged record by hand.
func (s *Store) Resolve(id, by, note string, now time.Time) (anomaly.Record, error) {
	return s.lifecycle(id, by, note, now, func(r *anomaly.Record) (string, error) {
		if r.Status == anomaly.Resolved {
			who := r.ResolvedBy
			if who == "" {
				who = "the data (the equipment ran again)"
			}
			return "", fmt.Errorf("%w: already resolved by %s", ErrConflict, who)
		}
		at := now.UTC()
		r.Status, r.ResolvedBy, r.ResolvedAt = anomaly.Resolved, by, &at
		return payload.ChangeResolved, nil
	})
}

// Limits of the people-given fields.
const (
	MaxBy   = 128
	MaxNote = 4096
)

// CheckAction checks who acknowledges or resolves, and the note.
func CheckAction(by, note string) error {
	switch {
	case strings.TrimSpace(by) == "":
		return fmt.Errorf(`%w: "by" is required: who acknowledges or resolves`, ErrInvalid)
	case len(by) > MaxBy || !utf8.ValidString(by) || strings.ContainsFunc(by, isControl):
		return fmt.Errorf(`%w: "by" must be printable text of at most %d bytes`, ErrInvalid, MaxBy)
	case len(note) > MaxNote || !utf8.ValidString(note):
		return fmt.Errorf(`%w: "note" must be UTF-8 text of at most %d bytes`, ErrInvalid, MaxNote)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func (s *Store) lifecycle(id, by, note string, now time.Time, apply func(*anomaly.Record) (string, error)) (anomaly.Record, error) {
	if err := CheckAction(by, note); err != nil {
		return anomaly.Record{}, err
	}
	var rec anomaly.Record
	err := s.db.Update(func(tx *bolt.Tx) error {
		old, found, err := getRecord(tx, id)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		rec = old
		kind, err := apply(&rec)
		if err != nil {
			return err
		}
		if note != "" {
			rec.Note = note
		}
		rec.Revision++
		rec.Updated = now.UTC()
		return s.change(tx, rec, kind, now)
	})
	if err != nil {
		return anomaly.Record{}, err
	}
	s.wakeAll()
	return rec, nil
}

// Get returns a record.
func (s *Store) Get(id string) (anomaly.Record, error) {
	var rec anomaly.Record
	err := s.db.View(func(tx *bolt.Tx) error {
		r, found, err := getRecord(tx, id)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%w: %q", ErrNotFound, id)
		}
		rec = r
		return nil
	})
	return rec, err
}

// change stores rec and enqueues everything the change causes.
func (s *Store) change(tx *bolt.Tx, rec anomaly.Record, kind string, now time.Time) error {
	if err := putRecord(tx, rec); err != nil {
		return err
	}
	if s.opts.Router != nil {
		items, err := s.opts.Router.Route(rec, kind)
		if err != nil {
			return err
		}
		for _, it := range items {
			if err := enqueue(tx, it, now); err != nil {
				return err
			}
		}
	}
	return s.stepAlert(tx, rec, now)
}

// putRecord stores rec and moves it to the end of the change order.
func putRecord(tx *bolt.Tx, rec anomaly.Record) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding record %s: %w", rec.ID, err)
	}
	if err := tx.Bucket(bucketRecords).Put([]byte(rec.ID), v); err != nil {
		return err
	}
	return index(tx, rec.ID)
}

// index moves a record to the end of the change order (List's order).
func index(tx *bolt.Tx, id string) error {
	changes, changeOf := tx.Bucket(bucketChanges), tx.Bucket(bucketChangeOf)
	if old := changeOf.Get([]byte(id)); old != nil {
		if err := changes.Delete(old); err != nil {
			return err
		}
	}
	seq, err := changes.NextSequence()
	if err != nil {
		return err
	}
	if err := changes.Put(seqKey(seq), []byte(id)); err != nil {
		return err
	}
	return changeOf.Put([]byte(id), seqKey(seq))
}

func getRecord(tx *bolt.Tx, id string) (anomaly.Record, bool, error) {
	v := tx.Bucket(bucketRecords).Get([]byte(id))
	if v == nil {
		return anomaly.Record{}, false, nil
	}
	var r anomaly.Record
	if err := json.Unmarshal(v, &r); err != nil {
		return r, false, fmt.Errorf("events store: bad record %q: %w", id, err)
	}
	return r, true, nil
}

// normalize puts an event's times in UTC (so a stored and a detected copy
// compare equal) and drops evidence that JSON cannot carry (NaN, Inf).
func normalize(e anomaly.Event) anomaly.Event {
	e.Start, e.Detected = e.Start.UTC(), e.Detected.UTC()
	if !e.ShiftStart.IsZero() {
		e.ShiftStart = e.ShiftStart.UTC()
	}
	if e.End != nil {
		end := e.End.UTC()
		e.End = &end
	}
	if e.Evidence != nil {
		ev := maps.Clone(e.Evidence)
		for k, v := range ev {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				delete(ev, k)
			}
		}
		e.Evidence = ev
	}
	return e
}

func sameEvent(a, b anomaly.Event) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}
