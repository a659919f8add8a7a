package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/floorpulse/floorpulse/hub/internal/action"
	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/detect"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/partition"
	"github.com/floorpulse/floorpulse/hub/internal/recompute"
	"github.com/floorpulse/floorpulse/hub/internal/report"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/hub/internal/store"
	"github.com/floorpulse/floorpulse/hub/internal/web"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// partSpec names a partition: p of n, its local store, and its lease (nil
// for a hub that is not partitioned and so holds its one partition always).
type partSpec struct {
	p, n  int
	path  string
	lease *partition.Lease
}

// part is one partition's parts: its state store and engine, the flusher
// that writes its figures, detection, recompute and its HTTP API. The same
// function builds them for a single hub and for every partition a
// partitioned hub takes over.
type part struct {
	partSpec
	log     *slog.Logger
	st      *store.Store
	state   stateStore // what batches are committed to: st
	eng     *engine.Engine
	fl      *flusher
	runner  *detect.Runner
	rc      *recompute.Service
	adm     *admission // what a batch's signals pass before they are applied
	api     http.Handler
	every   time.Duration // flush interval
	release func()        // forgets the partition's engine
	loaded  int           // equipment loaded from the store
	pending int           // ranges pending in the store at start
	// stale are the ranges of batches whose commit failed, while the engine
	// may hold their effect: until resync reloaded them from the store.
	stale engine.Dirty
	// commit is held while a batch is applied and committed, and while
	// retention trims (retention.go).
	commit sync.Mutex
	retain func(context.Context) error
	// segments writes the segments to InfluxDB (segments.go).
	segments func(context.Context) error
}

// openPart opens the partition's store and builds its parts over it. The
// partition's open events must be in the event store by then (the runner
// resumes them).
func (h *hub) openPart(spec partSpec, log *slog.Logger) (*part, error) {
	if err := compactFile(spec.path, log); err != nil {
		return nil, err
	}
	st, err := store.Open(spec.path)
	if err != nil {
		return nil, err
	}
	pt := &part{partSpec: spec, log: log, st: st, state: st}
	if err := pt.build(h); err != nil {
		st.Close()
		return nil, err
	}
	log.Info("state loaded", "equipment", pt.loaded, "pending", pt.pending)
	h.held(spec.p, pt.eng)
	pt.release = func() { h.held(spec.p, nil) }
	return pt, nil
}

func (pt *part) build(h *hub) error {
	saved, err := pt.st.Load()
	if err != nil {
		return err
	}
	pend, err := pt.st.Pending()
	if err != nil {
		return err
	}
	pt.loaded, pt.pending = len(saved), len(pend)
	opts := h.cfg.EngineOptions()
	if h.cals != nil {
		opts.Calendar = h.cals.of
	}
	switch {
	case h.shared != nil:
		opts.Registry = h.shared.registry()
	case h.md != nil:
		if opts.Registry, err = h.md.Registry(); err != nil {
			return err
		}
	}
	opts.Registry = registryOf(opts.Registry, pt.n, pt.p)
	pt.eng = engine.New(opts, saved)
	// A store from before power was folded into energy pieces is brought
	// to that form at once (the figures do not change).
	if c := pt.eng.Compacted(); len(c) > 0 {
		if err := pt.st.Save(c, nil); err != nil {
			return fmt.Errorf("folding stored power: %w", err)
		}
		pt.log.Info("stored power folded into energy pieces", "equipment", len(c))
	}
	floor, err := pt.st.Floor()
	if err != nil {
		return err
	}
	pt.eng.SetFloor(floor)
	pt.retain = func(ctx context.Context) error { return pt.retainState(ctx, h.cfg) }
	pt.adm = newAdmission(h.cfg, h.clock, pt.eng, h.outOfWindow, pt.log.With("part", "admit"))
	var w writer = h.w
	if pt.lease != nil {
		w = leaseWriter{w: h.w, lease: pt.lease}
	}
	pt.fl = newFlusher(pt.eng, pt.st, w, h.cfg.Influx.Timeout, pt.log.With("part", "flush"))
	pt.fl.mark(pend)
	pt.fl.clock = h.clock
	pt.every = h.cfg.Activity.FlushInterval
	if pt.runner, err = newRunner(h.cfg, pt.eng, h.ev, pt.log); err != nil {
		return err
	}
	pt.fl.after = pt.runner.Flushed
	pt.rc = recompute.NewService(pt.eng, w, pt.st, pt.log.With("part", "recompute"), recompute.WithLimit(h.cfg.CheckRecompute))
	segs := segmentSource(h.cfg, pt.eng)
	acts := h.actionOptions(pt.eng)
	acts.Changed = func(a action.JSON) { // to InfluxDB at once; the next refresh writes it again if this fails
		if a.Subject.Measured() && !acts.Known(a.Subject) {
			return
		}
		// Briefly: the request waits for it, and the next refresh writes it anyway.
		ctx, cancel := context.WithTimeout(context.Background(), min(h.cfg.Influx.Timeout, actionWriteTimeout))
		defer cancel()
		if err := h.w.WriteActions(ctx, []action.JSON{a}); err != nil {
			pt.log.Warn("writing an action to influxdb failed; retrying at the next refresh", "action", a.ID, "err", err)
		}
	}
	pt.segments = func(ctx context.Context) error {
		held := func() bool { return pt.lease == nil || pt.lease.Valid() }
		return writeSegments(ctx, h.w, segs, &acts, h.cfg.Segments.Refresh, h.clock, held, pt.log.With("part", "segments"))
	}
	rep := report.Handler(report.EngineSource{Engine: pt.eng, Location: h.cfg.Location, Site: h.cfg.Site, ListEvents: eventsOf(h.ev),
		SegmentRules: &segs, ActionRules: &acts, Clock: h.clock}, h.cfg.Location, pt.log.With("part", "report"))
	jsonAPI := api.New(pt.eng, h.cfg.Location, h.cfg.Site, h.nc,
		api.WithRecompute(pt.rc), api.WithEvents(h.ev.Handler()), api.WithOpenEvents(web.OpenEvents(h.ev, pt.log)), api.WithReport(rep),
		api.WithSegments(segs, h.clock), api.WithActions(action.Handler(acts)))
	wopts := web.Options{Engine: pt.eng, Location: h.cfg.Location, Site: h.cfg.Site, Events: h.ev,
		API: jsonAPI, MasterData: h.md != nil, Log: pt.log.With("part", "web"), Segments: &segs, Actions: &acts, Clock: h.clock}
	if h.md != nil {
		wopts.OperatorNames = h.operatorNames
	}
	pt.api, err = web.New(wopts)
	return err
}

// handle makes a batch's effects durable: the signals the hub takes
// (admission: a time window around now, the registry policy) applied to the engine, stored
// with the ranges whose figures it made stale, and its gauge events stored,
// all before the consumer acknowledges it. When the commit fails, the
// timelines the batch changed are reloaded from the store, so the engine
// holds only what the store holds and the batch, redelivered, is applied
// and stored again. handle is called by one goroutine at a time.
func (pt *part) handle(_ context.Context, sigs []signal.Signal) error {
	if pt.lease != nil && !pt.lease.Valid() {
		return errNotHeld
	}
	pt.commit.Lock()
	defer pt.commit.Unlock()
	if err := pt.resync(); err != nil {
		return err
	}
	sigs = pt.adm.admit(sigs)
	changes, dirty := pt.eng.Apply(sigs)
	pt.fl.mark(dirty) // before the commit: a flush in between keeps the stored range
	if err := pt.state.Save(changes, dirty); err != nil {
		err = fmt.Errorf("saving state: %w", err)
		if pt.stale == nil {
			pt.stale = engine.Dirty{}
		}
		pt.stale.Merge(dirty)
		if rerr := pt.resync(); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	return pt.runner.Signals(sigs)
}

// resync resets the stale timelines to what the store holds, and marks
// their ranges again: figures a flush wrote meanwhile from the uncommitted
// state are rewritten. Until it succeeds no batch is applied.
func (pt *part) resync() error {
	if len(pt.stale) == 0 {
		return nil
	}
	keys := make([]signal.Key, 0, len(pt.stale))
	for k := range pt.stale {
		keys = append(keys, k)
	}
	saved, err := pt.state.LoadKeys(keys)
	if err != nil {
		return fmt.Errorf("reloading state after a failed commit: %w", err)
	}
	pt.eng.Reset(keys, saved)
	pt.fl.mark(pt.stale)
	pt.stale = nil
	return nil
}

// stateStore is the part's state store as a batch's commit sees it.
type stateStore interface {
	Save(changes []state.Change, dirty map[signal.Key]state.Range) error
	LoadKeys(keys []signal.Key) (map[signal.Key]state.Saved, error)
}

var _ stateStore = (*store.Store)(nil)

// run runs the parts until ctx ends or one of them fails. The consumer,
// detection, recompute and the extra parts stop first, then the flusher, so
// that its last flush writes what the consumer stored. Every error reaches
// the caller.
func (pt *part) run(ctx context.Context, consumer func(context.Context) error, extra ...func(context.Context) error) error {
	fctx, stopFlush := context.WithCancel(context.WithoutCancel(ctx))
	defer stopFlush()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return pt.fl.Run(fctx, pt.every) })
	g.Go(func() error {
		defer stopFlush()
		inner, ictx := errgroup.WithContext(gctx)
		inner.Go(func() error { return stopped(ictx, "consumer", consumer(ictx)) })
		inner.Go(func() error { return pt.runner.Run(ictx, liveTick) })
		inner.Go(func() error { return pt.rc.Run(ictx) })
		if pt.retain != nil {
			inner.Go(func() error { return pt.retain(ictx) })
		}
		if pt.segments != nil {
			inner.Go(func() error { return pt.segments(ictx) })
		}
		for _, f := range extra {
			inner.Go(func() error { return f(ictx) })
		}
		return inner.Wait()
	})
	return g.Wait()
}

// close closes the partition's store.
func (pt *part) close() {
	if pt.release != nil {
		pt.release()
	}
	if err := pt.st.Close(); err != nil {
		pt.log.Warn("closing the state store", "err", err)
	}
}

// stopped turns a part's return before ctx ended into an error.
func stopped(ctx context.Context, name string, err error) error {
	if err == nil && ctx.Err() == nil {
		return fmt.Errorf("%s stopped", name)
	}
	return err
}

// registryOf is the part of the registry whose sites fall in partition p.
func registryOf(all []activity.Equipment, n, p int) []activity.Equipment {
	if n <= 1 {
		return all
	}
	var out []activity.Equipment
	for _, eq := range all {
		if partition.Of(eq.Key.Site, n) == p {
			out = append(out, eq)
		}
	}
	return out
}

// writer writes computed figures (InfluxDB).
type writer interface {
	Write(ctx context.Context, res engine.Result) error
}

// leaseWriter writes only while the partition's lease is held, and never
// past its deadline: a hub that lost a partition cannot overwrite the
// figures its new holder writes.
type leaseWriter struct {
	w     writer
	lease interface {
		Valid() bool
		Deadline() time.Time
	}
}

func (l leaseWriter) Write(ctx context.Context, res engine.Result) error {
	if !l.lease.Valid() {
		return errNotHeld
	}
	ctx, cancel := context.WithDeadline(ctx, l.lease.Deadline())
	defer cancel()
	return l.w.Write(ctx, res)
}

// errNotHeld is returned by work on a partition whose lease is not valid.
var errNotHeld = errors.New("partition lease not held")
