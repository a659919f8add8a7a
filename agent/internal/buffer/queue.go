// Package buffer is the agent's durable queue: signals are committed to a
// bbolt file (data_dir/queue.db) before any source acknowledges them upstream,
// and leave it only when the forwarder deletes them after JetStream acked.
//
// What always holds: keys are big-endian uint64 sequence numbers, persisted and
// monotonic across restarts (the Seq of the stored signal); values are
// signal.Marshal bytes; an Append is one transaction (one fsync), however many
// signals it holds. When the stored bytes exceed the configured maximum, the
// oldest records are dropped (policy drop_oldest), counted, and replaced by a
// gap marker per equipment so the hub knows the range is unknown.
//
// A bbolt file never shrinks: pages freed by deletes are reused, but the file
// keeps its high-water size. Compaction (bbolt's Compact into a new file while
// the agent is stopped) is later work.
package buffer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

var (
	bucketSignals = []byte("signals")
	bucketMeta    = []byte("meta")
	keyRecords    = []byte("records")
	keyBytes      = []byte("bytes")
)

// ErrClosed is returned by operations on a closed queue.
var ErrClosed = errors.New("queue closed")

// Record is one stored signal.
type Record struct {
	Seq  uint64
	Data []byte // signal.Marshal bytes, owned by the caller
}

// Queue is a FIFO of signals in a bbolt file.
type Queue struct {
	db       *bolt.DB
	maxBytes uint64

	records atomic.Uint64
	bytes   atomic.Uint64
	dropped atomic.Uint64

	closeOnce sync.Once
	closeErr  error
}

// Open opens (or creates) the queue file at path. maxBytes bounds the stored
// signal bytes (0: unbounded).
func Open(path string, maxBytes uint64) (*Queue, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("opening queue %s: %w", path, err)
	}
	q := &Queue{db: db, maxBytes: maxBytes}
	err = db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketSignals); err != nil {
			return err
		}
		m, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		q.records.Store(getUint(m, keyRecords))
		q.bytes.Store(getUint(m, keyBytes))
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initialising queue %s: %w", path, err)
	}
	return q, nil
}

func getUint(b *bolt.Bucket, k []byte) uint64 {
	v := b.Get(k)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func putUint(b *bolt.Bucket, k []byte, v uint64) error {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], v)
	return b.Put(k, buf[:])
}

// putStats stores the record count and byte total in the meta bucket.
func putStats(m *bolt.Bucket, recs, size uint64) error {
	if err := putUint(m, keyRecords, recs); err != nil {
		return err
	}
	return putUint(m, keyBytes, size)
}

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

// Append stores the signals in one transaction, assigning each its sequence
// number (written into the slice's elements). Every signal must be valid
// (signal.Validate); otherwise nothing is stored and the error wraps
// signal.ErrInvalid.
func (q *Queue) Append(ctx context.Context, sigs []signal.Signal) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(sigs) == 0 {
		return nil
	}
	var recs, size, dropped uint64
	err := q.db.Update(func(tx *bolt.Tx) error {
		b, m := tx.Bucket(bucketSignals), tx.Bucket(bucketMeta)
		recs, size = getUint(m, keyRecords), getUint(m, keyBytes)
		for i := range sigs {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			sigs[i].Seq = seq
			data, err := signal.Marshal(sigs[i])
			if err != nil {
				return fmt.Errorf("signal %d of %d: %w", i, len(sigs), err)
			}
			if err := b.Put(seqKey(seq), data); err != nil {
				return err
			}
			recs++
			size += uint64(len(data))
		}
		if q.maxBytes > 0 && size > q.maxBytes {
			var err error
			if recs, size, dropped, err = dropOldest(b, recs, size, q.maxBytes); err != nil {
				return err
			}
		}
		return putStats(m, recs, size)
	})
	if err != nil {
		if errors.Is(err, bolt.ErrDatabaseNotOpen) {
			return ErrClosed
		}
		return fmt.Errorf("appending %d signals: %w", len(sigs), err)
	}
	q.records.Store(recs)
	q.bytes.Store(size)
	q.dropped.Add(dropped)
	return nil
}

// dropOldest deletes the oldest records until size fits in max (with 10%
// headroom, so a full queue does not drop on every append), then appends a gap
// marker per equipment that lost data.
func dropOldest(b *bolt.Bucket, recs, size, max uint64) (uint64, uint64, uint64, error) {
	target := max - max/10
	type lost struct {
		from, to time.Time
		n        uint64
		agent    string
	}
	gaps := map[signal.Key]*lost{}
	var order []signal.Key
	var keys [][]byte
	var dropped uint64
	c := b.Cursor()
	for k, v := c.First(); k != nil && size > target; k, v = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
		size -= uint64(len(v))
		recs--
		s, err := signal.Unmarshal(v)
		if err != nil {
			dropped++
			continue
		}
		if s.Gap == nil { // a dropped gap marker is merged into the new one, not lost
			dropped++
		}
		g := gaps[s.Key()]
		if g == nil {
			g = &lost{from: s.Time, to: s.Time, agent: s.Agent}
			if s.Gap != nil {
				g.from = s.Gap.From
			}
			gaps[s.Key()] = g
			order = append(order, s.Key())
		}
		g.n++
		if s.Gap != nil {
			g.n += s.Gap.Dropped - 1
		}
		if s.Time.Before(g.from) {
			g.from = s.Time
		}
		if s.Time.After(g.to) {
			g.to = s.Time
		}
	}
	// Delete after iterating: deleting under a cursor can skip keys.
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return 0, 0, 0, err
		}
	}
	for _, key := range order {
		g := gaps[key]
		seq, err := b.NextSequence()
		if err != nil {
			return 0, 0, 0, err
		}
		m := signal.Signal{
			Site: key.Site, Line: key.Line, Equipment: key.Equipment, Name: signal.GapName,
			Value: signal.Number(float64(g.n)), Time: g.to, Agent: g.agent, Seq: seq,
			Gap: &signal.Gap{From: g.from, To: g.to, Dropped: g.n, Reason: "buffer full"},
		}
		data, err := signal.Marshal(m)
		if err != nil {
			continue
		}
		if err := b.Put(seqKey(seq), data); err != nil {
			return 0, 0, 0, err
		}
		recs++
		size += uint64(len(data))
	}
	return recs, size, dropped, nil
}

// Peek returns up to n of the oldest records, oldest first, without removing them.
func (q *Queue) Peek(n int) ([]Record, error) {
	var out []Record
	err := q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSignals).Cursor()
		for k, v := c.First(); k != nil && len(out) < n; k, v = c.Next() {
			out = append(out, Record{Seq: binary.BigEndian.Uint64(k), Data: append([]byte(nil), v...)})
		}
		return nil
	})
	if errors.Is(err, bolt.ErrDatabaseNotOpen) {
		return nil, ErrClosed
	}
	return out, err
}

// Delete removes every record with a sequence number up to and including upto.
func (q *Queue) Delete(upto uint64) error {
	var recs, size uint64
	err := q.db.Update(func(tx *bolt.Tx) error {
		b, m := tx.Bucket(bucketSignals), tx.Bucket(bucketMeta)
		recs, size = getUint(m, keyRecords), getUint(m, keyBytes)
		// Collect first, then delete: Cursor.Delete followed by Next can skip keys.
		var keys [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil && binary.BigEndian.Uint64(k) <= upto; k, v = c.Next() {
			keys = append(keys, append([]byte(nil), k...))
			size -= min(size, uint64(len(v)))
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		recs -= min(recs, uint64(len(keys)))
		return putStats(m, recs, size)
	})
	if err != nil {
		if errors.Is(err, bolt.ErrDatabaseNotOpen) {
			return ErrClosed
		}
		return fmt.Errorf("deleting up to %d: %w", upto, err)
	}
	q.records.Store(recs)
	q.bytes.Store(size)
	return nil
}

// Len is the number of stored records.
func (q *Queue) Len() uint64 { return q.records.Load() }

// Bytes is the size of the stored signals (not of the file, which never shrinks).
func (q *Queue) Bytes() uint64 { return q.bytes.Load() }

// Dropped is the number of records dropped by the drop_oldest policy since Open.
func (q *Queue) Dropped() uint64 { return q.dropped.Load() }

// Close closes the file. It is idempotent.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() { q.closeErr = q.db.Close() })
	return q.closeErr
}
