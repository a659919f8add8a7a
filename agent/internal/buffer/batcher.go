package buffer

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/floorpulse/floorpulse/agent/internal/lograte"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Appender is what the Batcher commits to; *Queue implements it.
type Appender interface {
	Append(ctx context.Context, sigs []signal.Signal) error
}

// freer is implemented by an Appender that can say when an ErrFull is
// worth retrying; *Queue implements it.
type freer interface {
	Freed() <-chan struct{}
}

var (
	_ Appender = (*Queue)(nil)
	_ freer    = (*Queue)(nil)
)

// Entry is one unit handed to the Batcher: the signals of one upstream
// message or notification, and what to do once they are committed (or not:
// Done gets a non-nil error only when the Batcher stops first). Done(nil)
// means the upstream may be acknowledged: the signals are durable, or were
// refused under drop_newest and are durably covered by a pending gap.
type Entry struct {
	Signals []signal.Signal
	// Puts are state records of the source (see Put), committed in the
	// same transaction as the signals, after those of earlier entries.
	// An Appender that is not a StateAppender keeps no state (test fakes).
	Puts []Put
	Done func(err error)
}

// Batcher is a group committer: it gathers entries from every source for up to
// linger or max signals, appends them in one transaction (one fsync), and only
// then calls each entry's Done, in the order the entries arrived. A failed
// append (a full disk, say) is retried with back-off, holding the entries; the
// sources block on Add meanwhile, which is the back-pressure upstream. Under
// the block policy a full queue (ErrFull) is waited out the same way, without
// a time limit: no Done is called until the forwarder freed room.
type Batcher struct {
	q       Appender
	in      chan Entry
	max     int
	linger  time.Duration
	log     *slog.Logger
	rated   *lograte.Logger
	blocked atomic.Bool
	invalid atomic.Uint64
}

// inputCap bounds the entries waiting for the committer.
const inputCap = 512

// NewBatcher returns a Batcher committing up to max signals per transaction,
// waiting at most linger for a transaction to fill.
func NewBatcher(q Appender, max int, linger time.Duration, log *slog.Logger) *Batcher {
	if max < 1 {
		max = 1
	}
	// The input holds what waits while a commit runs; every entry keeps its
	// source message (and so its memory) until committed and acknowledged.
	return &Batcher{q: q, in: make(chan Entry, min(4*max, inputCap)), max: max, linger: linger, log: log, rated: lograte.New(log, 10*time.Second)}
}

// Add hands an entry to the Batcher. It blocks while the Batcher is behind.
func (b *Batcher) Add(ctx context.Context, e Entry) error {
	select {
	case b.in <- e:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Commit appends sigs, and applies puts in the same transaction, and waits
// until they are durable. Once it returned nil, sigs is the caller's again
// (the Batcher copied the signals when it took them).
func (b *Batcher) Commit(ctx context.Context, sigs []signal.Signal, puts ...Put) error {
	done := make(chan error, 1)
	if err := b.Add(ctx, Entry{Signals: sigs, Puts: puts, Done: func(err error) { done <- err }}); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run commits entries until ctx ends.
func (b *Batcher) Run(ctx context.Context) error {
	var (
		batch []Entry
		sigs  []signal.Signal
		puts  []Put
		timer = time.NewTimer(time.Hour)
	)
	timer.Stop()
	for {
		batch, sigs, puts = batch[:0], sigs[:0], puts[:0]
		select {
		case <-ctx.Done():
			return nil
		case e := <-b.in:
			batch = append(batch, e)
			sigs = b.appendValid(sigs, e.Signals)
			puts = append(puts, e.Puts...)
		}
		timer.Reset(b.linger)
	fill:
		for len(sigs) < b.max {
			select {
			case e := <-b.in:
				batch = append(batch, e)
				sigs = b.appendValid(sigs, e.Signals)
				puts = append(puts, e.Puts...)
			case <-timer.C:
				break fill
			case <-ctx.Done():
				break fill
			}
		}
		timer.Stop()
		err := b.append(ctx, sigs, puts)
		for _, e := range batch {
			if e.Done != nil {
				e.Done(err)
			}
		}
		if err != nil {
			return nil // ctx ended before the append succeeded
		}
	}
}

// Blocked reports whether the Batcher is waiting for room in a full queue
// (block policy) at this moment; it is false while it retries.
func (b *Batcher) Blocked() bool { return b.blocked.Load() }

// Invalid is the number of invalid signals dropped since start.
func (b *Batcher) Invalid() uint64 { return b.invalid.Load() }

// append retries until the signals and state records are committed or ctx
// ends.
func (b *Batcher) append(ctx context.Context, sigs []signal.Signal, puts []Put) error {
	sa, _ := b.q.(StateAppender)
	if sa == nil {
		puts = nil
	}
	if len(sigs) == 0 && len(puts) == 0 {
		return nil
	}
	wait := 100 * time.Millisecond
	held := false // ErrFull was returned at least once for these signals
	for {
		var freed <-chan struct{}
		if f, ok := b.q.(freer); ok {
			freed = f.Freed() // before the attempt, so a wake-up in between is not missed
		}
		var err error
		if len(puts) > 0 {
			err = sa.AppendState(context.WithoutCancel(ctx), sigs, puts)
		} else {
			err = b.q.Append(context.WithoutCancel(ctx), sigs)
		}
		if err == nil {
			if held {
				b.rated.Log(slog.LevelInfo, "queue has room again, committing held signals")
			}
			return nil
		}
		if errors.Is(err, ErrClosed) {
			return err
		}
		if errors.Is(err, ErrFull) {
			if !held {
				// A queue at its bound turns full and not at every forwarded
				// batch: log at most every 10 s.
				b.rated.Warn("queue full (policy block): holding signals unacknowledged until the forwarder frees room", "signals", len(sigs))
				held = true
			}
			// Freed is the wake-up; the timer only guards against an Appender without it.
			t := time.NewTimer(5 * time.Second)
			b.blocked.Store(true)
			select {
			case <-ctx.Done():
			case <-freed:
			case <-t.C:
			}
			b.blocked.Store(false)
			t.Stop()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		b.rated.Log(slog.LevelError, "committing signals to the queue failed, retrying", "signals", len(sigs), "err", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// appendValid appends the valid signals; sources validate what they produce,
// so an invalid one here is a bug, logged and dropped rather than blocking
// every later commit.
func (b *Batcher) appendValid(dst, src []signal.Signal) []signal.Signal {
	for _, s := range src {
		if err := s.Validate(); err != nil {
			b.invalid.Add(1)
			b.rated.Log(slog.LevelError, "dropping an invalid signal", "err", err)
			continue
		}
		dst = append(dst, s)
	}
	return dst
}
