package app

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/hub/internal/store"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// flusher recomputes and writes the figures of pending ranges. A batch's
// ranges are stored with its state (so they survive a crash) before the
// batch is acknowledged; the flusher writes their figures to InfluxDB and
// only then clears them, so every acknowledged change reaches InfluxDB,
// however the hub stops, and a burst of batches costs one write per interval.
// flush is the one place where the engine's figures for pending ranges are
// written out (recompute writes the ranges it is asked for). In a
// partitioned hub its writer is the partition's leaseWriter.
type flusher struct {
	eng     *engine.Engine
	st      *store.Store
	w       writer
	timeout time.Duration
	log     *slog.Logger
	// after runs once a range's figures are written and before the range is
	// cleared (the anomaly detectors); an error keeps the range pending.
	after func(engine.Dirty) error

	mu      sync.Mutex
	pending engine.Dirty
}

func newFlusher(eng *engine.Engine, st *store.Store, w writer, timeout time.Duration, log *slog.Logger) *flusher {
	return &flusher{eng: eng, st: st, w: w, timeout: timeout, log: log, pending: engine.Dirty{}}
}

// mark adds ranges to the pending set.
func (f *flusher) mark(d map[signal.Key]state.Range) {
	f.mu.Lock()
	defer f.mu.Unlock()
	engine.Dirty(f.pending).Merge(d)
}

// Run flushes every interval until ctx ends, then once more.
func (f *flusher) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), f.timeout)
			defer cancel()
			if err := f.flush(fctx); errors.Is(err, errNotHeld) {
				f.log.Info("partition not held; its figures are written by its next holder")
			} else if err != nil {
				f.log.Warn("final flush failed; pending figures are written at the next start", "err", err)
			}
			return nil
		case <-t.C:
		}
		if err := f.flush(ctx); err != nil {
			if failures%30 == 0 {
				f.log.Warn("writing figures failed; retrying", "err", err)
			}
			failures++
		} else {
			failures = 0
		}
	}
}

func (f *flusher) flush(ctx context.Context) error {
	f.mu.Lock()
	snap := f.pending
	f.pending = engine.Dirty{}
	f.mu.Unlock()
	if len(snap) == 0 {
		return nil
	}
	res := f.eng.Figures(snap)
	wctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	if err := f.w.Write(wctx, res); err != nil {
		f.mark(snap)
		return err
	}
	if f.after != nil {
		if err := f.after(snap); err != nil {
			f.mark(snap)
			return err
		}
	}
	// Clear the stored ranges not marked again since the snapshot; holding
	// the lock keeps a batch from marking in between.
	f.mu.Lock()
	defer f.mu.Unlock()
	done := map[signal.Key]state.Range{}
	for k, r := range snap {
		if _, again := f.pending[k]; !again {
			done[k] = r
		}
	}
	if err := f.st.Written(done); err != nil {
		engine.Dirty(f.pending).Merge(snap)
		return err
	}
	return nil
}
