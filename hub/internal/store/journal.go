package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Journal: Save appends a batch's writes as one record to bucket
// "journal" (key: the bucket's next sequence, big-endian, so records only
// append and pages fill before they split) instead of writing them into
// every equipment bucket the batch touched. Committing a batch then writes a
// few pages instead of two or more per equipment, which is what bounds a
// hub's commits on a disk whose fsync takes milliseconds. merge applies the
// records, in order, to the equipment and dirty buckets and deletes them,
// in one transaction (each key written once, with its last value, in key
// order: merger): after Save has appended mergeEvery records, when
// the flusher clears pending ranges (Written), and before anything reads the
// timelines or the pending ranges (Open, LoadKeys, Trim). A record
// holds exactly the puts Save would have made, so merging it later leaves
// the same store, and a store killed at any instant holds every committed
// batch, in the buckets or in the journal.
//
// Record (version journalV1): uvarint count of changes, each: name, uvarint
// count of operations, each an op byte, 'p' (put: key, value), 'd' (delete:
// key) or 'l' (delete the silences); then uvarint count of pending ranges, each: name, from, to
// (8 bytes each, as pair). Names, keys and values are uvarint length and
// bytes.
var bucketJournal = []byte("journal")

const (
	journalV1 = 1
	// mergeEvery is how many records the journal holds at most: a
	// Save that finds as many merges them in its transaction. It bounds
	// the journal while nothing else merges (InfluxDB unreachable).
	mergeEvery = 64
	opPut      = 'p'
	opDelete   = 'd'
	opSilences = 'l'
)

var errJournal = errors.New("state store: bad journal record")

// journalWriter encodes one record; it is the sink putChange writes to.
type journalWriter struct {
	buf []byte
	n   int // operations written
}

func (j *journalWriter) bytes(b []byte) {
	j.buf = binary.AppendUvarint(j.buf, uint64(len(b)))
	j.buf = append(j.buf, b...)
}

func (j *journalWriter) put(k, v []byte) error {
	j.buf = append(j.buf, opPut)
	j.bytes(k)
	j.bytes(v)
	j.n++
	return nil
}

func (j *journalWriter) del(k []byte) error {
	j.buf = append(j.buf, opDelete)
	j.bytes(k)
	j.n++
	return nil
}

func (j *journalWriter) clearSilences() error {
	j.buf = append(j.buf, opSilences)
	j.n++
	return nil
}

// record encodes changes and dirty.
func record(changes []state.Change, dirty map[signal.Key]state.Range) ([]byte, error) {
	j := &journalWriter{buf: make([]byte, 0, 64+len(changes)*64)}
	j.buf = append(j.buf, journalV1)
	j.buf = binary.AppendUvarint(j.buf, uint64(len(changes)))
	var a arena
	var ops []byte
	for _, c := range changes {
		// The operations go to a scratch writer first: their count
		// precedes them.
		sub := journalWriter{buf: ops[:0]}
		if err := putChange(&sub, &a, c); err != nil {
			return nil, err
		}
		ops = sub.buf
		j.bytes(a.name(c.Key))
		j.buf = binary.AppendUvarint(j.buf, uint64(sub.n))
		j.buf = append(j.buf, ops...)
	}
	j.buf = binary.AppendUvarint(j.buf, uint64(len(dirty)))
	for k, r := range dirty {
		j.bytes(a.name(k))
		j.buf = append(j.buf, a.pair(r.From, r.To)...)
	}
	return j.buf, nil
}

// reader decodes a record.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errJournal
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) next(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errJournal
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte { return r.next(r.uvarint()) }

// bucketOps are the writes of the journal's records to one equipment
// bucket, in order: clear says the stored silences were cleared (once or
// more); ops are the puts and deletes after the last clear of the
// silences' keys, and all others.
type bucketOps struct {
	name  []byte
	clear bool
	ops   []op
}

type op struct {
	k, v []byte
	del  bool
	seq  int // order in the journal: of two writes of a key the later wins
}

// merger gathers the writes of the journal's records, so that they are made
// once per key (a power observation put and folded away within the journal
// costs nothing) and in key order (bbolt appends rather than inserting in
// the middle of a page, which moves everything after it).
type merger struct {
	buckets map[string]*bucketOps
	order   []*bucketOps
	ranges  []rangeOp
}

type rangeOp struct {
	name     []byte
	from, to int64
}

// add decodes a record into m.
func (m *merger) add(rec []byte) error {
	if len(rec) == 0 || rec[0] != journalV1 {
		return errJournal
	}
	r := &reader{b: rec[1:]}
	for n := r.uvarint(); n > 0 && r.err == nil; n-- {
		name := r.bytes()
		ops := r.uvarint()
		if r.err != nil {
			break
		}
		b := m.buckets[string(name)]
		if b == nil {
			b = &bucketOps{name: name}
			m.buckets[string(name)] = b
			m.order = append(m.order, b)
		}
		for ; ops > 0 && r.err == nil; ops-- {
			switch o := r.next(1); {
			case r.err != nil:
			case o[0] == opPut:
				k, v := r.bytes(), r.bytes()
				b.ops = append(b.ops, op{k: k, v: v, seq: len(b.ops)})
			case o[0] == opDelete:
				b.ops = append(b.ops, op{k: r.bytes(), del: true, seq: len(b.ops)})
			case o[0] == opSilences:
				b.clear = true
				b.ops = slices.DeleteFunc(b.ops, func(o op) bool { return len(o.k) > 0 && o.k[0] == 'l' })
				for i := range b.ops {
					b.ops[i].seq = i
				}
			default:
				r.err = errJournal
			}
		}
	}
	for n := r.uvarint(); n > 0 && r.err == nil; n-- {
		name, v := r.bytes(), r.next(16)
		if r.err != nil {
			break
		}
		m.ranges = append(m.ranges, rangeOp{name, getTime(v), getTime(v[8:])})
	}
	if r.err == nil && len(r.b) != 0 {
		r.err = errJournal
	}
	return r.err
}

// apply makes one record's writes in the equipment and dirty buckets.
func apply(tx *bolt.Tx, rec []byte) error {
	m := &merger{buckets: map[string]*bucketOps{}}
	if err := m.add(rec); err != nil {
		return err
	}
	return m.write(tx)
}

// write makes the gathered writes in the equipment and dirty buckets:
// per bucket the stored silences cleared if they were, then for each key
// its last write, in key order.
func (m *merger) write(tx *bolt.Tx) error {
	root, db := tx.Bucket(bucketEquipment), tx.Bucket(bucketDirty)
	for _, bo := range m.order {
		b, err := root.CreateBucketIfNotExists(bo.name)
		if err != nil {
			return err
		}
		b.FillPercent = appendFill
		s := bucketSink{b}
		if bo.clear {
			if err := s.clearSilences(); err != nil {
				return err
			}
		}
		slices.SortFunc(bo.ops, func(a, b op) int {
			if c := bytes.Compare(a.k, b.k); c != 0 {
				return c
			}
			return a.seq - b.seq
		})
		for i, o := range bo.ops {
			if i+1 < len(bo.ops) && bytes.Equal(bo.ops[i+1].k, o.k) {
				continue // a later write of the key wins
			}
			if o.del {
				err = s.del(o.k)
			} else {
				err = s.put(o.k, o.v)
			}
			if err != nil {
				return err
			}
		}
	}
	for _, r := range m.ranges {
		if err := widen(db, r.name, r.from, r.to); err != nil {
			return err
		}
	}
	return nil
}

// widen widens the pending range of name in bucket db by [from, to].
func widen(db *bolt.Bucket, name []byte, from, to int64) error {
	if v := db.Get(name); len(v) == 16 {
		from, to = min(from, getTime(v)), max(to, getTime(v[8:]))
	}
	return db.Put(name, pair(from, to))
}

// mergeTx applies every journal record, oldest first, and deletes them.
func mergeTx(tx *bolt.Tx) error {
	j := tx.Bucket(bucketJournal)
	if j == nil {
		return nil
	}
	c := j.Cursor()
	m := &merger{buckets: map[string]*bucketOps{}}
	var keys int
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := m.add(v); err != nil {
			return fmt.Errorf("merging journal record %d: %w", binary.BigEndian.Uint64(k), err)
		}
		keys++
	}
	if keys == 0 {
		return nil
	}
	if err := m.write(tx); err != nil {
		return err
	}
	// The bucket is emptied by recreating it: cheaper than deleting its
	// records one by one, and its sequence starts again.
	if err := tx.DeleteBucket(bucketJournal); err != nil {
		return err
	}
	_, err := tx.CreateBucket(bucketJournal)
	return err
}

// merge applies the journal to the buckets, when it holds anything.
func (s *Store) merge() error {
	var pending bool
	if err := s.db.View(func(tx *bolt.Tx) error {
		if j := tx.Bucket(bucketJournal); j != nil {
			k, _ := j.Cursor().First()
			pending = k != nil
		}
		return nil
	}); err != nil || !pending {
		return err
	}
	return s.db.Update(mergeTx)
}

// journalLen is how many records the journal holds.
func journalLen(j *bolt.Bucket) uint64 {
	k, _ := j.Cursor().First()
	if k == nil {
		return 0
	}
	return j.Sequence() - binary.BigEndian.Uint64(k) + 1
}

// sink receives the writes of a change (putChange).
type sink interface {
	put(k, v []byte) error
	del(k []byte) error
	clearSilences() error
}

// bucketSink writes into an equipment bucket.
type bucketSink struct{ b *bolt.Bucket }

func (s bucketSink) put(k, v []byte) error { return s.b.Put(k, v) }

func (s bucketSink) del(k []byte) error { return s.b.Delete(k) }

func (s bucketSink) clearSilences() error {
	// Collect first: deleting while iterating can skip keys.
	var old [][]byte
	cur := s.b.Cursor()
	for k, _ := cur.Seek([]byte{'l'}); k != nil && k[0] == 'l'; k, _ = cur.Next() {
		old = append(old, append([]byte(nil), k...))
	}
	for _, k := range old {
		if err := s.b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
