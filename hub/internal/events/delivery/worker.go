package delivery

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
)

// batch is how many due items a worker takes at a time.
const batch = 100

// errPermanent marks a failure that retrying cannot fix.
var errPermanent = errors.New("permanent failure")

// Sender delivers one item; an error is a failed attempt.
type Sender interface {
	Send(ctx context.Context, it ledger.Item) error
}

// Outbox is what a worker needs of the durable outbox.
type Outbox interface {
	Ready(dest string, now time.Time, n int) ([]ledger.Item, time.Time, error)
	Delivered(it ledger.Item) error
	Failed(it ledger.Item, dead bool) error
	Wake(dest string) <-chan struct{}
}

var _ Outbox = (*ledger.Store)(nil)

// Backoff bounds the wait between attempts.
type Backoff struct{ Min, Max time.Duration }

// Wait is the wait after the n-th failed attempt: exponential from Min,
// capped at Max, with the upper half jittered.
func (b Backoff) Wait(n int) time.Duration {
	d := b.Min
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	half := d / 2
	return half + rand.N(half+1)
}

// Worker delivers the outbox items of one destination, in order.
type Worker struct {
	Dest   string
	Sender Sender
	Outbox Outbox
	// MaxAttempts moves an item to the dead letters after so many failed
	// attempts; 0 retries forever.
	MaxAttempts int
	Backoff     Backoff
	Clock       func() time.Time
	// Poll is the longest wait between looks at the outbox.
	Poll time.Duration
	Log  *slog.Logger
	// Counts, when set, counts the worker's attempts (for metrics).
	Counts *Counts
}

// Counts are a destination's delivery attempts since the process started.
type Counts struct {
	Delivered atomic.Uint64 // items its receiver accepted
	Failed    atomic.Uint64 // failed attempts (retried or dead)
	Dead      atomic.Uint64 // items moved to the dead letters
}

func (w *Worker) count(f func(*Counts)) {
	if w.Counts != nil {
		f(w.Counts)
	}
}

// Run delivers the due items until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	failures := 0
	for {
		items, next, err := w.Outbox.Ready(w.Dest, w.Clock(), batch)
		if err != nil {
			return err
		}
		for _, it := range items {
			err := w.Sender.Send(ctx, it)
			if ctx.Err() != nil {
				return nil
			}
			if err == nil {
				failures = 0
				if err := w.Outbox.Delivered(it); err != nil {
					return err
				}
				w.count(func(c *Counts) { c.Delivered.Add(1) })
				continue
			}
			if err := w.failed(it, err, &failures); err != nil {
				return err
			}
		}
		if len(items) == batch {
			continue
		}
		if !w.wait(ctx, next) {
			return nil
		}
	}
}

// failed records a failed attempt: the item is retried after a back-off, or
// moved to the dead letters after MaxAttempts or a permanent failure.
func (w *Worker) failed(it ledger.Item, cause error, failures *int) error {
	now := w.Clock()
	retry := it
	retry.Attempts++
	retry.LastError = cause.Error()
	dead := errors.Is(cause, errPermanent) || (w.MaxAttempts > 0 && retry.Attempts >= w.MaxAttempts)
	if dead {
		retry.FailedAt = now.UTC()
	} else {
		retry.NextAt = now.Add(w.Backoff.Wait(retry.Attempts)).UTC()
	}
	if err := w.Outbox.Failed(retry, dead); err != nil {
		return err
	}
	w.count(func(c *Counts) {
		c.Failed.Add(1)
		if dead {
			c.Dead.Add(1)
		}
	})
	if dead {
		w.Log.Error("delivery failed for the last time: moved to the dead letters", "id", it.ID, "kind", it.Kind, "attempts", it.Attempts+1, "err", cause)
	} else if *failures++; *failures == 1 || *failures%20 == 0 {
		w.Log.Warn("delivery failed; retrying", "id", it.ID, "attempt", it.Attempts+1, "failures", *failures, "err", cause)
	}
	return nil
}

// wait waits until the next item is due (at most Poll), a wake-up or the
// end of ctx (false).
func (w *Worker) wait(ctx context.Context, next time.Time) bool {
	d := w.Poll
	if !next.IsZero() {
		d = min(d, max(next.Sub(w.Clock()), 0))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-w.Outbox.Wake(w.Dest):
	case <-t.C:
	}
	return true
}
