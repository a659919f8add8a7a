package buffer

import (
	"encoding/binary"
	"errors"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Peek returns up to n of the oldest records, oldest first, without removing them.
func (q *Queue) Peek(n int) ([]Record, error) { return q.PeekAfter(0, n) }

// Batch is records read by PeekInto together with the memory they were
// copied into, which the next PeekInto into the same Batch reuses.
type Batch struct {
	Recs  []Record
	arena []byte
	spans []span
}

// span is where a record read by PeekInto lies in its Batch's arena.
type span struct {
	seq        uint64
	start, end int
}

// PeekInto reads up to n of the oldest records with a sequence number above
// after into b, oldest first, without removing them. What b held before is
// overwritten: records taken from it earlier must no longer be used.
func (q *Queue) PeekInto(b *Batch, after uint64, n int) error {
	b.Recs, b.arena, b.spans = b.Recs[:0], b.arena[:0], b.spans[:0]
	err := q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSignals).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(b.spans) < n; k, v = c.Next() {
			start := len(b.arena)
			b.arena = append(b.arena, v...)
			b.spans = append(b.spans, span{seq: binary.BigEndian.Uint64(k), start: start, end: len(b.arena)})
		}
		return nil
	})
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	if err != nil {
		return err
	}
	// The arena has its final place only now: the records are made last.
	for _, sp := range b.spans {
		b.Recs = append(b.Recs, peeked(sp.seq, b.arena[sp.start:sp.end:sp.end]))
	}
	return nil
}

// PeekAfter returns up to n of the oldest records with a sequence number
// above after, oldest first, without removing them.
func (q *Queue) PeekAfter(after uint64, n int) ([]Record, error) {
	var out []Record
	err := q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSignals).Cursor()
		var arena []byte
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(out) < n; k, v = c.Next() {
			// The records are copied out of the mapped file into blocks
			// shared by many records, not one allocation each (or three).
			if cap(arena)-len(arena) < len(v) {
				arena = make([]byte, 0, max(len(v), chunkSize))
			}
			start := len(arena)
			arena = append(arena, v...)
			out = append(out, peeked(binary.BigEndian.Uint64(k), arena[start:len(arena):len(arena)]))
		}
		return nil
	})
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return nil, ErrClosed
	}
	return out, err
}
