package buffer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

func seqOf(k []byte) uint64 { return binary.BigEndian.Uint64(k) }

// Expire drops the records committed more than Options.MaxAge before now,
// counts them (reason max_age) and replaces them by a gap marker per
// equipment at the tail. It returns the number of signals dropped. Without a
// MaxAge it does nothing.
func (q *Queue) Expire() (uint64, error) {
	if q.opt.MaxAge <= 0 {
		return 0, nil
	}
	var dropped uint64
	err := q.update(func(t *txn) error {
		cutoff := uint64(t.now.Add(-q.opt.MaxAge).UnixNano())
		// Commit times are in sequence order; the first commit not older
		// than the cutoff is where expiry stops.
		var stop uint64 // 0: every record is expired
		expired := false
		c := t.idx.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(v) == 8 && binary.BigEndian.Uint64(v) >= cutoff {
				stop = seqOf(k)
				break
			}
			expired = true
		}
		if !expired {
			return nil
		}
		before := t.drops[rMaxAge]
		err := dropHead(t, rMaxAge, func(seq, _ uint64) bool { return stop == 0 || seq < stop })
		dropped = t.drops[rMaxAge] - before
		return err
	})
	if err != nil {
		if errors.Is(err, ErrClosed) {
			return 0, err
		}
		return 0, fmt.Errorf("expiring records older than %s: %w", q.opt.MaxAge, err)
	}
	return dropped, nil
}

// Sweeper runs Expire on a schedule: every tenth of the max age, at least
// every minute and at most every second.
type Sweeper struct {
	q     *Queue
	every time.Duration
	log   *slog.Logger
}

// NewSweeper returns a Sweeper for q.
func NewSweeper(q *Queue, log *slog.Logger) *Sweeper {
	return &Sweeper{q: q, every: min(time.Minute, max(time.Second, q.opt.MaxAge/10)), log: log}
}

// Run expires records until ctx ends. Without a max age it just waits.
func (s *Sweeper) Run(ctx context.Context) error {
	if s.q.opt.MaxAge <= 0 {
		<-ctx.Done()
		return nil
	}
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		n, err := s.q.Expire()
		switch {
		case errors.Is(err, ErrClosed):
			return nil
		case err != nil:
			s.log.Error("expiring old records failed", "err", err)
		case n > 0:
			s.log.Warn("dropped records older than buffer.max_age, replaced by gap markers", "signals", n, "max_age", s.q.opt.MaxAge)
		}
	}
}
