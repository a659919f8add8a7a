// Package store keeps the hub's state timelines and its pending figure
// ranges durable in a bbolt file, so a restarted hub (even after SIGKILL)
// resumes where its acknowledged input left it. A batch's changes and the
// ranges whose figures it made stale are written in one transaction; the hub
// acknowledges the batch's messages only after Save returned, and clears a
// pending range only after its figures were written (docs/delivery.md).
//
// Layout: bucket "equipment" holds one bucket per equipment named
// site NUL line NUL equipment, with key "span" (first and horizon, 2 x int64)
// and records keyed by a kind byte and big-endian, order-preserving times:
// 'r' run (1 byte value), 'a' alarm (alarm.go: 1 byte value, or value,
// version and code), 't' state (1 byte), 'c' counter, 's' scrap counter,
// 'p' power and 'e' energy meter (float64 bits each), 'q' energy pieces
// (power folded, state/energy.go: kWh from the key's time to the next
// piece, float64 bits; a store written before power was folded has none,
// and the engine folds its power at the first start), 'o' operator
// events (time, kind byte, id; bbolt bounds a key to 32 KiB, so the engine
// sets aside longer values), 'l' silences (start -> end), 'g' lost ranges
// (start, end). Bucket "dirty" maps the equipment name to a pending range
// (2 x int64). Bucket "retention" holds the floor below which nothing is
// restated (trim.go): Trim drops what the timelines no longer need. Bucket
// "journal" holds the batches saved since the last merge, one record each
// (journal.go); everything that reads the timelines or pending ranges
// merges it first.
package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// seriesKind is the record kind of each series; seriesOfKind its inverse.
var (
	seriesKind   = [state.NumSeries]byte{state.SeriesScrap: 's', state.SeriesPower: 'p', state.SeriesEnergy: 'e'}
	seriesOfKind = map[byte]state.Series{'s': state.SeriesScrap, 'p': state.SeriesPower, 'e': state.SeriesEnergy}
)

var (
	bucketEquipment = []byte("equipment")
	bucketDirty     = []byte("dirty")
	keySpan         = []byte("span")
)

// Store is the hub's durable state.
type Store struct {
	db *bolt.DB
}

// ErrLocked is returned by Open when another process (a running hub) holds
// the store for longer than the open waits.
var ErrLocked = errors.New("state store is locked")

// Option changes how Open opens the store.
type Option func(*bolt.Options)

// Wait sets how long Open waits for another process to release the store
// (default 5 s).
func Wait(d time.Duration) Option { return func(o *bolt.Options) { o.Timeout = d } }

// Open opens (or creates) the store at path.
func Open(path string, opts ...Option) (*Store, error) {
	bo := &bolt.Options{Timeout: 5 * time.Second}
	for _, o := range opts {
		o(bo)
	}
	db, err := bolt.Open(path, 0o600, bo)
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s", ErrLocked, path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening state store %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketEquipment, bucketDirty, bucketJournal} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return mergeTx(tx)
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db}, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

func eqName(k signal.Key) []byte {
	return []byte(k.Site + "\x00" + k.Line + "\x00" + k.Equipment)
}

func parseName(name []byte) (signal.Key, error) {
	parts := bytes.Split(name, []byte{0})
	if len(parts) != 3 {
		return signal.Key{}, fmt.Errorf("state store: bad equipment name %q", name)
	}
	return signal.Key{Site: string(parts[0]), Line: string(parts[1]), Equipment: string(parts[2])}, nil
}

func putTime(b []byte, t int64) { binary.BigEndian.PutUint64(b, uint64(t)^(1<<63)) }
func getTime(b []byte) int64    { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

func timeKey(kind byte, t int64, extra ...byte) []byte {
	b := make([]byte, 9, 9+len(extra))
	b[0] = kind
	putTime(b[1:], t)
	return append(b, extra...)
}

func pair(a, b int64) []byte {
	v := make([]byte, 16)
	putTime(v, a)
	putTime(v[8:], b)
	return v
}

// appendFill is how full bbolt fills the pages of the equipment buckets
// before it splits them: their records are keyed by time, so nearly every
// record is appended at the end of its kind, where a page split at the
// default 50 % would leave half-empty pages behind.
const appendFill = 0.95

// Save writes the changes and widens the pending ranges by dirty, in one
// transaction: appended to the journal (journal.go), and merged into the
// buckets with the journal's earlier records once it holds mergeEvery.
func (s *Store) Save(changes []state.Change, dirty map[signal.Key]state.Range) error {
	if len(changes) == 0 && len(dirty) == 0 {
		return nil
	}
	rec, err := record(changes, dirty)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		j, err := tx.CreateBucketIfNotExists(bucketJournal)
		if err != nil {
			return err
		}
		j.FillPercent = 1 // keys only append
		seq, err := j.NextSequence()
		if err != nil {
			return err
		}
		key := make([]byte, 8)
		binary.BigEndian.PutUint64(key, seq)
		if err := j.Put(key, rec); err != nil {
			return err
		}
		if journalLen(j) >= mergeEvery {
			return mergeTx(tx)
		}
		return nil
	})
}

// arena hands out byte slices carved from larger blocks, so that a
// transaction's many small keys and values cost a few allocations.
type arena struct{ buf []byte }

// arenaBlock is the size of an arena's blocks.
const arenaBlock = 64 << 10

// take returns a slice of n bytes.
func (a *arena) take(n int) []byte {
	if n > arenaBlock/4 {
		return make([]byte, n)
	}
	if len(a.buf)+n > cap(a.buf) {
		a.buf = make([]byte, 0, arenaBlock)
	}
	b := a.buf[len(a.buf) : len(a.buf)+n : len(a.buf)+n]
	a.buf = a.buf[:len(a.buf)+n]
	return b
}

// name is eqName(k) in the arena.
func (a *arena) name(k signal.Key) []byte {
	b := a.take(len(k.Site) + len(k.Line) + len(k.Equipment) + 2)[:0]
	b = append(append(append(append(append(b, k.Site...), 0), k.Line...), 0), k.Equipment...)
	return b
}

// timeKey is the key kind, t, extra in the arena.
func (a *arena) timeKey(kind byte, t int64, extra ...[]byte) []byte {
	n := 9
	for _, e := range extra {
		n += len(e)
	}
	b := a.take(n)
	b[0] = kind
	putTime(b[1:], t)
	b = b[:9]
	for _, e := range extra {
		b = append(b, e...)
	}
	return b
}

// pair is pair(x, y) in the arena.
func (a *arena) pair(x, y int64) []byte {
	v := a.take(16)
	putTime(v, x)
	putTime(v[8:], y)
	return v
}

// bytes is v in the arena.
func (a *arena) bytes(v ...byte) []byte { return append(a.take(len(v))[:0], v...) }

// Load reads every timeline.
func (s *Store) Load() (map[signal.Key]state.Saved, error) {
	if err := s.merge(); err != nil {
		return nil, err
	}
	out := map[signal.Key]state.Saved{}
	err := s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketEquipment)
		return root.ForEachBucket(func(name []byte) error {
			k, err := parseName(name)
			if err != nil {
				return err
			}
			sv, err := load(k, root.Bucket(name))
			out[k] = sv
			return err
		})
	})
	return out, err
}

// LoadKeys reads the timelines of keys, as one transaction sees them; a key
// with nothing stored is missing from the result.
func (s *Store) LoadKeys(keys []signal.Key) (map[signal.Key]state.Saved, error) {
	if err := s.merge(); err != nil {
		return nil, err
	}
	out := map[signal.Key]state.Saved{}
	err := s.db.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketEquipment)
		for _, k := range keys {
			b := root.Bucket(eqName(k))
			if b == nil {
				continue
			}
			sv, err := load(k, b)
			if err != nil {
				return err
			}
			out[k] = sv
		}
		return nil
	})
	return out, err
}

// load reads the timeline of k from its bucket b.
func load(k signal.Key, b *bolt.Bucket) (state.Saved, error) {
	span := b.Get(keySpan)
	if len(span) != 16 {
		return state.Saved{}, fmt.Errorf("state store: %s has no span", k)
	}
	sv := state.Saved{First: getTime(span), Horizon: getTime(span[8:])}
	bad := func() error { return fmt.Errorf("state store: %s: bad record", k) }
	err := b.ForEach(func(key, v []byte) error {
		if bytes.Equal(key, keySpan) {
			return nil
		}
		if len(key) < 9 {
			return bad()
		}
		t := getTime(key[1:9])
		switch key[0] {
		case 'r':
			if len(v) != 1 {
				return bad()
			}
			sv.Run = append(sv.Run, state.Point{T: t, V: int8(v[0])})
		case 'a':
			p, ok := alarmValue(t, v)
			if !ok {
				return bad()
			}
			sv.Alarm = append(sv.Alarm, p)
		case 'c':
			if len(v) != 8 {
				return bad()
			}
			sv.Count = append(sv.Count, state.Count{T: t, V: math.Float64frombits(binary.BigEndian.Uint64(v))})
		case 's', 'p', 'e':
			if len(v) != 8 {
				return bad()
			}
			ser := sv.Series(seriesOfKind[key[0]])
			*ser = append(*ser, state.Count{T: t, V: math.Float64frombits(binary.BigEndian.Uint64(v))})
		case 'q':
			if len(v) != 8 {
				return bad()
			}
			sv.Pieces = append(sv.Pieces, state.Piece{T: t, KWh: math.Float64frombits(binary.BigEndian.Uint64(v))})
		case 't':
			if len(v) != 1 {
				return bad()
			}
			sv.State = append(sv.State, state.StatePoint{T: t, S: state.State(v[0])})
		case 'o':
			if len(key) < 10 {
				return bad()
			}
			sv.Ops = append(sv.Ops, state.OpEvent{T: t, Kind: key[9], Op: string(key[10:])})
		case 'l':
			if len(v) != 8 {
				return bad()
			}
			sv.Silences = append(sv.Silences, state.Interval{Start: t, End: getTime(v)})
		case 'g':
			if len(key) != 17 {
				return bad()
			}
			sv.Gaps = append(sv.Gaps, state.Interval{Start: t, End: getTime(key[9:])})
		default:
			return bad()
		}
		return nil
	})
	return sv, err
}

// Pending returns the ranges whose figures are not written yet.
func (s *Store) Pending() (map[signal.Key]state.Range, error) {
	if err := s.merge(); err != nil {
		return nil, err
	}
	out := map[signal.Key]state.Range{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDirty).ForEach(func(name, v []byte) error {
			k, err := parseName(name)
			if err != nil {
				return err
			}
			if len(v) != 16 {
				return fmt.Errorf("state store: bad pending range for %s", k)
			}
			out[k] = state.Range{From: getTime(v), To: getTime(v[8:])}
			return nil
		})
	})
	return out, err
}

// Written clears the pending ranges whose figures were written: a range is
// cleared only if it is still exactly what was written (a range widened
// meanwhile stays pending). The journal is merged first, in the same
// transaction.
func (s *Store) Written(done map[signal.Key]state.Range) error {
	if len(done) == 0 {
		return s.merge()
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := mergeTx(tx); err != nil {
			return err
		}
		db := tx.Bucket(bucketDirty)
		for k, r := range done {
			name := eqName(k)
			if v := db.Get(name); len(v) == 16 && getTime(v) >= r.From && getTime(v[8:]) <= r.To {
				if err := db.Delete(name); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// putChange writes a change's records to b: an equipment bucket
// (bucketSink) or a journal record.
func putChange(b sink, a *arena, c state.Change) error {
	if err := b.put(keySpan, a.pair(c.First, c.Horizon)); err != nil {
		return err
	}
	for _, p := range c.Run {
		if err := b.put(a.timeKey('r', p.T), a.bytes(byte(p.V))); err != nil {
			return err
		}
	}
	for _, p := range c.Alarm {
		if err := b.put(a.timeKey('a', p.T), alarmBytes(p)); err != nil {
			return err
		}
	}
	for _, p := range c.Count {
		v := a.take(8)
		binary.BigEndian.PutUint64(v, math.Float64bits(p.V))
		if err := b.put(a.timeKey('c', p.T), v); err != nil {
			return err
		}
	}
	for k := range state.NumSeries {
		for _, p := range *c.Series(k) {
			v := a.take(8)
			binary.BigEndian.PutUint64(v, math.Float64bits(p.V))
			if err := b.put(a.timeKey(seriesKind[k], p.T), v); err != nil {
				return err
			}
		}
	}
	// Folded power: the observations removed (after the puts: one put and
	// folded in the same batch goes) and the pieces.
	for _, t := range c.PowerFolded {
		if err := b.del(a.timeKey(seriesKind[state.SeriesPower], t)); err != nil {
			return err
		}
	}
	for _, p := range c.Pieces {
		v := a.take(8)
		binary.BigEndian.PutUint64(v, math.Float64bits(p.KWh))
		if err := b.put(a.timeKey('q', p.T), v); err != nil {
			return err
		}
	}
	for _, p := range c.State {
		if err := b.put(a.timeKey('t', p.T), a.bytes(byte(p.S))); err != nil {
			return err
		}
	}
	for _, e := range c.Ops {
		if err := b.put(a.timeKey('o', e.T, []byte{e.Kind}, []byte(e.Op)), nil); err != nil {
			return err
		}
	}
	for _, g := range c.Gaps {
		k := a.take(17)
		k[0] = 'g'
		putTime(k[1:], g.Start)
		putTime(k[9:], g.End)
		if err := b.put(k, nil); err != nil {
			return err
		}
	}
	if c.SilencesChanged {
		if err := b.clearSilences(); err != nil {
			return err
		}
		for _, si := range c.Silences {
			v := a.take(8)
			putTime(v, si.End)
			if err := b.put(a.timeKey('l', si.Start), v); err != nil {
				return err
			}
		}
	}
	return nil
}
