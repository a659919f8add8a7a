package buffer

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Sources may keep state of their own beside the signals (a Sparkplug B edge
// node's birth certificate, say, without which its later messages cannot be
// read): records in the bucket "state" of the queue file, written in the same
// transaction as the signals of the entry that carries them, so a message
// acknowledged upstream never depends on state that a crash could lose.

var bucketState = []byte("state")

// Put is a write to the sources' state: Value stored under Key, or Key
// deleted when Value is nil. Keys start with the name of the source that owns
// them; the queue does not read them.
type Put struct {
	Key, Value []byte
}

// StateAppender is an Appender that also commits state records; *Queue
// implements it.
type StateAppender interface {
	AppendState(ctx context.Context, sigs []signal.Signal, puts []Put) error
}

var _ StateAppender = (*Queue)(nil)

// AppendState is Append that also applies puts, in order, in the same
// transaction: they are durable exactly when the signals are (under the
// block policy an ErrFull stores neither).
func (q *Queue) AppendState(ctx context.Context, sigs []signal.Signal, puts []Put) error {
	if len(puts) == 0 {
		return q.Append(ctx, sigs)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := q.update(func(t *txn) error {
		if len(sigs) > 0 {
			if err := q.appendPolicy(t, sigs); err != nil {
				return err
			}
		}
		b, err := t.tx.CreateBucketIfNotExists(bucketState)
		if err != nil {
			return err
		}
		for _, p := range puts {
			if p.Value == nil {
				err = b.Delete(p.Key)
			} else {
				err = b.Put(p.Key, p.Value)
			}
			if err != nil {
				return fmt.Errorf("state record %q: %w", p.Key, err)
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrClosed) || errors.Is(err, ErrFull) {
			return err
		}
		return fmt.Errorf("appending %d signals and %d state records: %w", len(sigs), len(puts), err)
	}
	return nil
}

// State calls fn with every state record whose key starts with prefix, in
// key order. The slices are valid only during the call.
func (q *Queue) State(prefix []byte, fn func(key, value []byte) error) error {
	err := q.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketState)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if err := fn(k, v); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}
