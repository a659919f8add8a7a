package app

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/hub/internal/store"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// flusher recomputes and writes the figures of pending ranges, chunk by
// chunk (a plant day or month) whatever they span. A batch's
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
	// clock, when set, makes the flusher write the current periods of every
	// equipment (see current); nil: only pending ranges are written.
	clock func() time.Time
	// written is the start of the quarter hour whose current periods were
	// last written for every equipment (zero: not yet since the start).
	written time.Time

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

// currentEvery is how often the current periods of every equipment are
// written: every period (hour, shift, day, month) starts on a quarter hour
// of some time zone, so each gets its point within a quarter hour of its start.
const currentEvery = 15 * time.Minute

// current returns, once at the first flush and then once per quarter hour,
// the instant now for every equipment the engine knows, registered or
// reporting: the figures of the periods holding now (hour, shift, day,
// month), so that equipment that never reports, or has gone silent, has its
// period points (no run, unknown) without waiting for a recompute. They are
// written without state points: those depend on the timelines only, which
// the clock does not change (and writing them would delete and rewrite the
// open interval of every machine each time). ok is false when nothing is due.
func (f *flusher) current() (d engine.Dirty, quarter time.Time, ok bool) {
	if f.clock == nil {
		return nil, time.Time{}, false
	}
	now := f.clock()
	quarter = now.Truncate(currentEvery)
	if quarter.Equal(f.written) {
		return nil, time.Time{}, false
	}
	d = engine.Dirty{}
	for _, k := range f.eng.Keys() {
		d.Mark(k, now.UnixNano(), now.UnixNano())
	}
	return d, quarter, true
}

func (f *flusher) flush(ctx context.Context) error {
	f.mu.Lock()
	snap := f.pending
	f.pending = engine.Dirty{}
	f.mu.Unlock()
	// The current periods are written on their own, not merged into the
	// pending ranges: merged, the rollups of every period between the
	// ranges and now would be written, which ones depending on when data
	// happened to arrive.
	if cur, quarter, due := f.current(); due {
		if err := f.write(ctx, cur, false); err != nil {
			f.mark(snap)
			return err
		}
		f.written = quarter
	}
	if len(snap) == 0 {
		return nil
	}
	if err := f.write(ctx, snap, true); err != nil {
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

// flushPoints is about how many points the flusher writes per request.
const flushPoints = 5000

// write computes and writes the figures of snap chunk by chunk (a plant day
// or month, engine.Chunks), about flushPoints points per request, so its
// memory is bounded by a chunk's figures however wide the ranges are. The
// ranges stay pending until every chunk is written; a failure writes them
// all again (the same points). Without states, the chunks' state steps and
// ranges are left out (figures only).
func (f *flusher) write(ctx context.Context, snap engine.Dirty, states bool) error {
	var batch engine.Result
	send := func() error {
		wctx, cancel := context.WithTimeout(ctx, f.timeout)
		defer cancel()
		err := f.w.Write(wctx, batch)
		batch = engine.Result{}
		return err
	}
	for _, c := range f.eng.Chunks(snap) {
		if err := ctx.Err(); err != nil {
			return err
		}
		in := snap
		if !c.Month && states {
			in = aligned(snap, c)
		}
		res := f.eng.ChunkFigures(in, c)
		if !states {
			res.States, res.StateRanges = nil, nil
		}
		batch.Add(res)
		if batch.Points() >= flushPoints {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if batch.Points() == 0 && len(batch.StateRanges) == 0 {
		return nil
	}
	return send() // state ranges without a change still delete stale points
}

// stateSlack is how far apart the starts of pending ranges may lie for the
// flusher to compute them over one common range.
const stateSlack = 15 * time.Minute

// aligned is d's ranges within day chunk c, each group of ranges whose
// starts lie within stateSlack of the group's first widened to the group's
// common range. Their state points are then removed by one InfluxQL
// statement instead of one per machine (influx deleteGroups), which is what
// InfluxDB 1.8 spends its time on when a flush names hundreds of machines;
// the points and figures of the widened ranges are the same as before, a
// few more of them written again.
func aligned(d engine.Dirty, c engine.Chunk) engine.Dirty {
	from, to := c.From.UnixNano(), c.To.UnixNano()-1
	type kr struct {
		k signal.Key
		r state.Range
	}
	rs := make([]kr, 0, len(d))
	for k, r := range d {
		if r.From <= to && r.To >= from {
			rs = append(rs, kr{k, state.Range{From: max(r.From, from), To: min(r.To, to)}})
		}
	}
	slices.SortFunc(rs, func(a, b kr) int { return cmp.Compare(a.r.From, b.r.From) })
	out := make(engine.Dirty, len(rs))
	for i := 0; i < len(rs); {
		j, end := i, rs[i].r.To
		for ; j < len(rs) && rs[j].r.From-rs[i].r.From <= int64(stateSlack); j++ {
			end = max(end, rs[j].r.To)
		}
		for _, x := range rs[i:j] {
			out[x.k] = state.Range{From: rs[i].r.From, To: end}
		}
		i = j
	}
	return out
}
