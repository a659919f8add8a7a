// Package buffer is the agent's durable queue: signals are committed to a
// bbolt file (data_dir/queue.db) before any source acknowledges them upstream,
// and leave it only when the forwarder deletes them after JetStream acked, or
// when a stated policy drops them. The end-to-end guarantee this queue is
// one hop of is docs/delivery.md.
//
// What always holds:
//   - Keys are big-endian uint64 sequence numbers, persisted and monotonic
//     across restarts (the Seq of the stored signal); values are framed
//     signal.Marshal bytes (record.go). An Append is one transaction (one fsync), however
//     many signals it holds.
//   - The stored signal bytes stay within Options.MaxBytes, by the policy
//     (see Policy): drop_oldest drops the head, drop_newest refuses new
//     signals, block refuses the whole commit with ErrFull so the caller
//     waits. Only the empty queue takes a commit larger than the bound.
//   - Every dropped signal is counted by reason (Drops) and covered by a gap
//     marker (signal.GapName) per equipment, so the hub knows the range is
//     unknown. A gap marker is never dropped silently: dropping one merges
//     its count into the next marker of that equipment.
//   - Each commit's wall-clock time is kept beside the records (bucket
//     "commits": first sequence of the commit -> unix nanoseconds), so the
//     age of the oldest record is known and Options.MaxAge can expire it.
//   - Drop state (counts, pending drop_newest gaps) changes in the same
//     transaction as the records, so a crash never loses a gap.
//   - Sources' own state records (bucket "state", see Put) are written in
//     the transaction of the signals of the entry that carries them.
//
// A bbolt file never shrinks while it is open: pages freed by deletes are
// reused, but the file keeps its high-water size. OpenWith compacts the file
// into a fresh one when it is much larger than its live data (see compact.go),
// crash-safely.
package buffer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

var (
	bucketSignals = []byte("signals")
	bucketMeta    = []byte("meta")
	bucketCommits = []byte("commits")
	keyRecords    = []byte("records")
	keyBytes      = []byte("bytes")
	keyPending    = []byte("pending") // drop_newest: refused signals not yet covered by a marker
)

var (
	// ErrClosed is returned by operations on a closed queue.
	ErrClosed = errors.New("queue closed")
	// ErrFull is returned by Append under the block policy when the signals
	// do not fit; nothing was stored. Freed tells when to try again.
	ErrFull = errors.New("queue full")
)

// Record is one stored signal.
type Record struct {
	Seq  uint64
	Data []byte // signal.Marshal bytes, owned by the caller
	// Tail (site.line.equipment) and ID are the signal's subject tail and
	// id, stored beside it so it can be published without decoding; empty
	// for records stored before they were kept.
	Tail, ID string
}

// Options configure a Queue. The zero value is an unbounded drop_oldest
// queue without expiry that compacts at the default threshold.
type Options struct {
	MaxBytes uint64        // bound on the stored signal bytes; 0: unbounded
	Policy   Policy        // what happens when MaxBytes is reached; "": drop_oldest
	MaxAge   time.Duration // records committed longer ago are dropped by Expire; 0: never
	// CompactMinBytes is the file size below which OpenWith never compacts;
	// 0 means DefaultCompactMinBytes, a negative value disables compaction.
	CompactMinBytes int64
	Log             *slog.Logger     // nil: discard
	Now             func() time.Time // nil: time.Now
}

// Queue is a FIFO of signals in a bbolt file.
type Queue struct {
	db   *bolt.DB
	path string
	opt  Options
	now  func() time.Time
	log  *slog.Logger

	records atomic.Uint64
	bytes   atomic.Uint64
	oldest  atomic.Int64 // commit time (unix ns) of the oldest record; 0 when empty
	drops   [numReasons]atomic.Uint64

	mu    sync.Mutex
	freed chan struct{} // closed (and replaced) whenever room is freed
	spare [][]byte      // blocks encode carves records from, kept for the next transaction

	// Buffers of the write transaction, reused by the next one; bbolt runs
	// one write transaction at a time.
	scratch, keys []byte

	released atomic.Int64 // when releasePages last ran, unix ns

	closeOnce sync.Once
	closeErr  error
}

// Open opens (or creates) a drop_oldest queue file at path. maxBytes bounds
// the stored signal bytes (0: unbounded).
func Open(path string, maxBytes uint64) (*Queue, error) {
	return OpenWith(path, Options{MaxBytes: maxBytes})
}

// OpenWith opens (or creates) the queue file at path, compacting it first
// when it is much larger than its live data.
func OpenWith(path string, o Options) (*Queue, error) {
	if o.Policy == "" {
		o.Policy = DropOldest
	}
	if _, err := ParsePolicy(string(o.Policy)); err != nil {
		return nil, err
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CompactMinBytes == 0 {
		o.CompactMinBytes = DefaultCompactMinBytes
	}
	if o.CompactMinBytes > 0 {
		if err := compactIfBloated(path, o.CompactMinBytes, o.Log); err != nil {
			// The original file is untouched; run on it and try again next start.
			o.Log.Warn("compacting the queue file failed, going on with it as it is", "path", path, "err", err)
		}
	}
	db, err := openDB(path)
	if err != nil {
		return nil, fmt.Errorf("opening queue %s: %w", path, err)
	}
	q := &Queue{db: db, path: path, opt: o, now: o.Now, log: o.Log, freed: make(chan struct{})}
	err = q.update(func(t *txn) error {
		// A file written before the commit times were kept has records but
		// no times: they count as committed now.
		if first, _ := t.b.Cursor().First(); first != nil {
			if k, _ := t.idx.Cursor().First(); k == nil || bytes.Compare(k, first) > 0 {
				return putUint(t.idx, first, uint64(t.now.UnixNano()))
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("initialising queue %s: %w", path, err)
	}
	return q, nil
}

// openDB opens the bbolt file. The freelist (the ids of the free pages) is
// not written at every commit but rebuilt when the file is opened, as etcd
// does: a queue being drained frees pages at every delete, and writing the
// sorted list of them at each commit cost more than the delete itself. The
// file stays readable by any bbolt, which rebuilds the list in the same way.
func openDB(path string) (*bolt.DB, error) {
	return bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, FreelistType: bolt.FreelistMapType, NoFreelistSync: true})
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

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

// txn is the state of one write transaction.
type txn struct {
	q              *Queue
	tx             *bolt.Tx
	b, m, idx      *bolt.Bucket
	scratch, chunk []byte   // encode's buffers
	used           [][]byte // blocks filled before chunk
	recs, size     uint64
	now            time.Time
	newCommit      bool // an entry in idx was made for this transaction
	freed          bool // records left the queue
	drops          [numReasons]uint64
	oldest         int64
}

// update runs fn in a write transaction and publishes the resulting counts.
func (q *Queue) update(fn func(t *txn) error) error {
	var t *txn
	err := q.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketSignals)
		if err != nil {
			return err
		}
		m, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		idx, err := tx.CreateBucketIfNotExists(bucketCommits)
		if err != nil {
			return err
		}
		b.FillPercent = appendFill
		t = &txn{q: q, tx: tx, b: b, m: m, idx: idx, scratch: q.scratch, recs: getUint(m, keyRecords), size: getUint(m, keyBytes), now: q.now()}
		err = t.run(fn)
		q.scratch = t.scratch
		return err
	})
	if t != nil {
		// Committed or rolled back, bbolt holds no value of the transaction
		// any more: its blocks serve the next one.
		q.putChunks(append(t.used, t.chunk))
	}
	if err != nil {
		if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
			return ErrClosed
		}
		return err
	}
	q.records.Store(t.recs)
	q.bytes.Store(t.size)
	q.oldest.Store(t.oldest)
	for r, n := range t.drops {
		q.drops[r].Add(n)
	}
	if t.freed {
		q.mu.Lock()
		close(q.freed)
		q.freed = make(chan struct{})
		q.mu.Unlock()
	}
	return nil
}

// run runs fn and then updates the commit times and the counters.
func (t *txn) run(fn func(t *txn) error) error {
	if err := fn(t); err != nil {
		return err
	}
	if err := t.trimCommits(); err != nil {
		return err
	}
	if err := putUint(t.m, keyRecords, t.recs); err != nil {
		return err
	}
	return putUint(t.m, keyBytes, t.size)
}

// maxSpare is how many blocks of chunkSize a queue keeps between
// transactions: those of a commit of a few thousand signals.
const maxSpare = 16

// takeChunk returns an empty block of at least n bytes.
func (q *Queue) takeChunk(n int) []byte {
	if n <= chunkSize {
		q.mu.Lock()
		if k := len(q.spare); k > 0 {
			c := q.spare[k-1]
			q.spare = q.spare[:k-1]
			q.mu.Unlock()
			return c
		}
		q.mu.Unlock()
	}
	return make([]byte, 0, max(n, chunkSize))
}

// putChunks keeps blocks for later transactions.
func (q *Queue) putChunks(cs [][]byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, c := range cs {
		if cap(c) == chunkSize && len(q.spare) < maxSpare {
			q.spare = append(q.spare, c[:0])
		}
	}
}

// encode gives s the next sequence number and returns its encoding, without
// storing it.
func (t *txn) encode(s *signal.Signal) ([]byte, error) {
	s.Seq = t.b.Sequence() + 1
	var err error
	if t.scratch, err = appendFrame(t.scratch[:0], *s); err != nil {
		return nil, err
	}
	// bbolt keeps the value until the commit: each record gets its own
	// bytes, carved from blocks rather than allocated one by one; the
	// blocks are used again by later transactions.
	if cap(t.chunk)-len(t.chunk) < len(t.scratch) {
		if t.chunk != nil {
			t.used = append(t.used, t.chunk)
		}
		t.chunk = t.q.takeChunk(len(t.scratch))
	}
	n := len(t.chunk)
	t.chunk = append(t.chunk, t.scratch...)
	return t.chunk[n:len(t.chunk):len(t.chunk)], nil
}

// chunkSize is the size of the blocks encoded records are carved from.
const chunkSize = 64 << 10

// put stores what encode returned for s and records the commit time of the
// transaction's first record.
func (t *txn) put(s signal.Signal, data []byte) error {
	if err := t.b.SetSequence(s.Seq); err != nil {
		return err
	}
	key := seqKey(s.Seq)
	if !t.newCommit {
		if err := putUint(t.idx, key, uint64(t.now.UnixNano())); err != nil {
			return err
		}
		t.newCommit = true
	}
	if err := t.b.Put(key, data); err != nil {
		return err
	}
	t.recs++
	t.size += uint64(len(data))
	return nil
}

// store encodes and puts s regardless of the bound (gap markers).
func (t *txn) store(s signal.Signal) error {
	data, err := t.encode(&s)
	if err != nil {
		return err
	}
	return t.put(s, data)
}

// keyBuf returns an empty buffer to collect keys in (8 bytes each), reused
// by later transactions.
func (t *txn) keyBuf() []byte { return t.q.keys[:0] }

// deleteKeys deletes records collected beforehand, their keys one after
// the other in keys (8 bytes each): Cursor.Delete followed by Next can skip
// keys in bbolt, so nothing is deleted under a cursor.
func (t *txn) deleteKeys(keys []byte, size uint64) error {
	t.q.keys = keys[:0]
	n := uint64(len(keys) / 8)
	// One cursor for every key: what Bucket.Delete does (seek, then delete
	// at the cursor), without a cursor and its stack per key. The cursor
	// is positioned afresh by each Seek, never moved by Next after a delete.
	c := t.b.Cursor()
	for i := 0; i+8 <= len(keys); i += 8 {
		k := keys[i : i+8 : i+8]
		if at, _ := c.Seek(k); !bytes.Equal(at, k) {
			continue
		}
		if err := c.Delete(); err != nil {
			return err
		}
	}
	t.recs -= min(t.recs, n)
	t.size -= min(t.size, size)
	if n > 0 {
		t.freed = true
	}
	return nil
}

// trimCommits deletes the commit times of records that are gone (keeping
// the one that covers the first record) and notes the oldest commit time.
func (t *txn) trimCommits() error {
	first, _ := t.b.Cursor().First()
	var del [][]byte
	var keep []byte
	c := t.idx.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if first != nil && bytes.Compare(k, first) > 0 {
			break
		}
		if keep != nil {
			del = append(del, keep)
		}
		keep = append([]byte(nil), k...)
	}
	if first == nil && keep != nil {
		del = append(del, keep)
	}
	for _, k := range del {
		if err := t.idx.Delete(k); err != nil {
			return err
		}
	}
	t.oldest = 0
	if first != nil {
		if k, v := t.idx.Cursor().First(); k != nil && len(v) == 8 {
			t.oldest = int64(binary.BigEndian.Uint64(v))
		}
	}
	return nil
}

// Append stores the signals in one transaction, assigning each stored one
// its sequence number (written into the slice's elements; a signal refused
// by drop_newest keeps Seq 0). Every signal must be valid (signal.Validate);
// otherwise nothing is stored and the error wraps signal.ErrInvalid. Under
// the block policy it returns ErrFull, storing nothing, when the signals do
// not fit.
func (q *Queue) Append(ctx context.Context, sigs []signal.Signal) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(sigs) == 0 {
		return nil
	}
	err := q.update(func(t *txn) error { return q.appendPolicy(t, sigs) })
	if err != nil {
		if errors.Is(err, ErrClosed) || errors.Is(err, ErrFull) {
			return err
		}
		return fmt.Errorf("appending %d signals: %w", len(sigs), err)
	}
	return nil
}

// appendPolicy stores sigs in t under the queue's policy.
func (q *Queue) appendPolicy(t *txn, sigs []signal.Signal) error {
	switch q.opt.Policy {
	case Block:
		return q.appendBlock(t, sigs)
	case DropNewest:
		return q.appendDropNewest(t, sigs)
	default:
		return q.appendDropOldest(t, sigs)
	}
}

func encodeErr(i, n int, err error) error { return fmt.Errorf("signal %d of %d: %w", i, n, err) }

// Delete removes every record with a sequence number up to and including
// upto. Under drop_newest, the gap markers of refused signals are queued in
// the same transaction once there is room.
func (q *Queue) Delete(upto uint64) error {
	err := q.update(func(t *txn) error {
		keys := t.keyBuf()
		var size uint64
		c := t.b.Cursor()
		for k, v := c.First(); k != nil && binary.BigEndian.Uint64(k) <= upto; k, v = c.Next() {
			keys = append(keys, k...)
			size += uint64(len(v))
		}
		if err := t.deleteKeys(keys, size); err != nil {
			return err
		}
		if q.opt.Policy == DropNewest {
			if err := q.flushPending(t); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrClosed) {
			return err
		}
		return fmt.Errorf("deleting up to %d: %w", upto, err)
	}
	q.releasePages()
	return nil
}

// Freed returns a channel that is closed the next time records leave the
// queue (forwarded, expired or dropped). Take it before an Append that may
// fail with ErrFull, so no wake-up is missed.
func (q *Queue) Freed() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.freed
}

// Len is the number of stored records.
func (q *Queue) Len() uint64 { return q.records.Load() }

// Bytes is the size of the stored signals (not of the file).
func (q *Queue) Bytes() uint64 { return q.bytes.Load() }

// OldestAge is how long ago the oldest stored record was committed; 0 when
// the queue is empty.
func (q *Queue) OldestAge() time.Duration {
	o := q.oldest.Load()
	if o == 0 {
		return 0
	}
	return max(0, q.now().Sub(time.Unix(0, o)))
}

// Dropped is the number of signals dropped for any reason since Open.
func (q *Queue) Dropped() uint64 {
	var n uint64
	for r := range q.drops {
		n += q.drops[r].Load()
	}
	return n
}

// Drops returns the number of signals dropped since Open, by reason
// (ReasonDropOldest, ReasonDropNewest, ReasonMaxAge), every reason present.
func (q *Queue) Drops() map[string]uint64 {
	out := make(map[string]uint64, numReasons)
	for r := range q.drops {
		out[reasonNames[r]] = q.drops[r].Load()
	}
	return out
}

// FileSize is the size of the queue file on disk.
func (q *Queue) FileSize() int64 {
	fi, err := os.Stat(q.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Close closes the file. It is idempotent.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() { q.closeErr = q.db.Close() })
	return q.closeErr
}

// appendFill is how full bbolt fills a page before splitting it. Records
// are only ever added at the end of the queue, so pages are filled almost
// completely instead of half (bbolt's default): half the pages to write and
// map for the same backlog.
const appendFill = 0.95
