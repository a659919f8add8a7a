// Package ledger keeps the anomaly event records in a bbolt file, together
// with what each change of them owes: its deliveries (the outbox, and the
// dead letters of those given up) and the alert state of downtime records
// with its due times. What a change owes is decided elsewhere (a Router for
// deliveries, an Alerter for alerts); the ledger makes it durable.
//
// What always holds: a record change, the deliveries it causes and the alert
// state with its due times are written in one bbolt transaction, so a
// change is either wholly recorded or not at all, and a restarted hub
// neither forgets a delivery nor alerts twice. An outbox item leaves the
// outbox only when it was delivered (Delivered) or given up (Failed, dead).
// Applying the same detections again changes nothing and owes nothing. A
// finished alert (done or skipped) is never stepped again. Retention
// (Prune) deletes old resolved records and old dead letters, never the
// outbox.
//
// Layout of the bbolt file: "records" id -> Record JSON; "changes" change
// sequence -> id (the order of List: the latest change of each record) and
// "changeof" id -> its sequence; "outbox" holds one bucket per
// destination of sequence -> Item JSON; "deadletters" sequence -> Item
// JSON; "alerts" id -> alert state JSON; "timers" (due time, id) -> nil;
// "gauges" gauge key -> the gauge detector's state (ApplyGauges).
package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
)

// Errors of the lifecycle operations.
var (
	ErrNotFound = errors.New("no such event")
	ErrConflict = errors.New("event state does not allow this")
	ErrInvalid  = errors.New("invalid request")
)

var (
	bucketRecords     = []byte("records")
	bucketChanges     = []byte("changes")
	bucketChangeOf    = []byte("changeof")
	bucketOutbox      = []byte("outbox")
	bucketDeadLetters = []byte("deadletters")
	bucketAlerts      = []byte("alerts")
	bucketTimers      = []byte("timers")
	bucketGauges      = []byte("gauges")
)

// Router decides the deliveries a record change causes. It runs inside the
// change's transaction; its error undoes the change.
type Router interface {
	Route(rec anomaly.Record, change string) ([]Item, error)
}

// Alerter steps the alert of a downtime record: given the kept state (zero:
// none), it returns the state to keep and the notifications to deliver. It
// runs inside the change's transaction; its error undoes the change.
type Alerter interface {
	Step(st alert.State, rec anomaly.Record, now time.Time) (alert.State, []Item, error)
}

// Options configure a Store.
type Options struct {
	// Dests are the delivery destinations. Each has a wake channel; the
	// outbox of any other is moved to the dead letters by Orphans, and its
	// dead letters are not redelivered.
	Dests []string
	// Router and Alerter decide what a change owes (nil: nothing).
	Router  Router
	Alerter Alerter
	Log     *slog.Logger
}

// Store is the durable record of anomaly events and of what their changes owe.
type Store struct {
	db        *bolt.DB
	opts      Options
	log       *slog.Logger
	wake      map[string]chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Open opens (or creates) the store at path.
func Open(path string, opts Options) (*Store, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Store{opts: opts, log: opts.Log, wake: map[string]chan struct{}{}}
	for _, d := range opts.Dests {
		s.wake[d] = make(chan struct{}, 1)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("opening events store %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketRecords, bucketChanges, bucketChangeOf, bucketOutbox, bucketDeadLetters, bucketAlerts, bucketTimers, bucketGauges} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening events store %s: %w", path, err)
	}
	s.db = db
	return s, nil
}

// Close closes the store; it is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.db.Close() })
	return s.closeErr
}

// Wake returns the channel that signals new or redelivered items of dest.
func (s *Store) Wake(dest string) <-chan struct{} { return s.wake[dest] }

func (s *Store) wakeAll() {
	for _, ch := range s.wake {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (s *Store) known(dest string) bool {
	_, ok := s.wake[dest]
	return ok
}

// Order-preserving keys: big-endian time with the sign bit flipped.
func putTime(b []byte, t int64) { binary.BigEndian.PutUint64(b, uint64(t)^(1<<63)) }

func timerKey(t time.Time, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	putTime(k, t.UnixNano())
	return append(k, id...)
}

func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}
