// Package app wires the hub: NATS (embedded or external), the InfluxDB
// writer, the event store and the HTTP API are shared by the hub; each
// partition of the signals stream gets its own parts (state store, engine,
// flusher, detection, recompute, consumer), built by one function for a
// single hub and for each partition a partitioned hub holds. A single hub is
// the partitioned hub with one partition that it always holds. Every part is
// a Run(ctx) error supervised by an errgroup, so an error reaches Run's
// caller. The order of a batch's effects (the hub's side of the delivery
// guarantee, docs/delivery.md): state store commit, then JetStream ack; the
// flusher writes the figures of the stored pending ranges to InfluxDB and
// clears them only then.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/floorpulse/floorpulse/hub/internal/action"
	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/broker"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/consume"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/events"
	"github.com/floorpulse/floorpulse/hub/internal/influx"
	"github.com/floorpulse/floorpulse/hub/internal/masterdata"
	"github.com/floorpulse/floorpulse/hub/internal/metrics"
	"github.com/floorpulse/floorpulse/hub/internal/partition"
)

// hub is what the partitions of one hub process share.
type hub struct {
	cfg *config.Config
	log *slog.Logger
	nc  *nats.Conn
	// broker is the embedded server (nil with nats.url); its Run reloads
	// the agents' identities.
	broker *broker.Server
	js     jetstream.JetStream
	w      *influx.Writer
	ev     *events.Store
	stats  *consume.Stats
	// actions is the action store, shared by the partitions: a single
	// hub's file (data_dir/actions.db), or the KeyValue bucket of the stream
	// that every hub of a partitioned deployment shares. An action's effect
	// is measured by the partition that serves the request.
	actions action.Keeper

	mu      sync.Mutex
	engines map[int]*engine.Engine // of the partitions held

	// md is the master data: a single hub's file (data_dir/masterdata.db),
	// or the stream every hub of a partitioned deployment shares.
	md *masterdata.Service
	// shared applies the shared master data to the partitions held (nil
	// in a single hub).
	shared *sharedMasterData
	// dated is the roster by date the alerts read first (imported rosters).
	dated *alert.Dated
	// cals are the lines' calendars, imported shift calendars included.
	cals *calendars

	clock       func() time.Time // where now is read for the accepted time window
	outOfWindow *agentCounts     // signals set aside as outside it, per agent
}

// Run runs the hub until ctx ends or one of its parts fails. With
// partitions.count above 1 it is one of several hubs sharing the stream's
// partitions (partitioned.go); otherwise it holds the one partition itself.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	applyRuntime(cfg.Runtime)
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	h, closeHub, err := open(ctx, cfg, log)
	if h == nil || err != nil {
		return err
	}
	defer closeHub()
	start := h.single
	if cfg.Partitions.Count > 1 {
		start = h.partitioned
	}
	run, api, err := start(ctx)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h.metrics())
	mux.Handle("/", api)
	guarded, err := guard(cfg, mux, log)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return h.ev.Run(gctx) })
	g.Go(func() error { return h.retainEvents(gctx) })
	if h.broker != nil {
		g.Go(func() error { return h.broker.Run(gctx) })
	}
	g.Go(func() error { return run(gctx) })
	serveHTTP(gctx, g, cfg.HTTP, guarded, log)
	return g.Wait()
}

// applyRuntime sets the process's garbage collection and memory limit from
// the configuration, unless the GOGC or GOMEMLIMIT environment variable
// sets them.
func applyRuntime(r config.Runtime) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(r.GCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" && r.MemoryLimit > 0 {
		debug.SetMemoryLimit(int64(min(r.MemoryLimit, math.MaxInt64)))
	}
}

// metrics serves the hub's Prometheus metrics.
func (h *hub) metrics() http.Handler {
	return metrics.Handler(metrics.Sources{
		Consume: h.stats, Engine: h.engineStats, Influx: h.w.Stats(), NATS: h.nc,
		Deliveries: h.ev.Counts(), Outbox: h.ev.Pending, OutOfWindow: h.outOfWindow.counts,
		StateBytes: func() int64 { return stateBytes(h.cfg) }, EventBytes: func() int64 { return fileBytes(eventsPath(h.cfg)) },
		Stream: (&streamUse{js: h.js, stream: h.cfg.NATS.Stream}).get,
	})
}

// held notes the engine of a partition taken (nil: dropped).
func (h *hub) held(p int, eng *engine.Engine) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if eng == nil {
		delete(h.engines, p)
	} else {
		h.engines[p] = eng
	}
}

// engineStats sums the stats of the engines of the partitions held.
func (h *hub) engineStats() engine.Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	var sum engine.Stats
	for _, e := range h.engines {
		s := e.Stats()
		sum.UnmappedStates += s.UnmappedStates
		sum.TooLate += s.TooLate
		sum.TooLarge += s.TooLarge
		sum.UnregisteredAccepted += s.UnregisteredAccepted
		sum.UnregisteredRejected += s.UnregisteredRejected
	}
	return sum
}

// open connects to InfluxDB (waiting until it answers) and NATS (starting
// the embedded server when no nats.url is set) and opens the event store.
// It returns a nil hub, and no error, when ctx ends first.
func open(ctx context.Context, cfg *config.Config, log *slog.Logger) (*hub, func(), error) {
	h := &hub{cfg: cfg, log: log, stats: &consume.Stats{}, engines: map[int]*engine.Engine{},
		clock: time.Now, outOfWindow: newAgentCounts(), dated: &alert.Dated{}, cals: newCalendars(cfg)}
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	w, err := openInflux(ctx, cfg, log)
	if w == nil || err != nil {
		return nil, nil, err
	}
	h.w = w
	closers = append(closers, w.Close)
	nc, srv, closeNATS, err := connectNATS(cfg, log)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	h.nc, h.broker = nc, srv
	closers = append(closers, closeNATS)
	if h.js, err = jetstream.New(nc); err != nil {
		closeAll()
		return nil, nil, err
	}
	if h.ev, err = openEvents(cfg, h.js, h.dated, h.cals.of, log); err != nil {
		closeAll()
		return nil, nil, err
	}
	closers = append(closers, func() { h.ev.Close() })
	if cfg.Partitions.Count > 1 {
		if h.actions, err = action.OpenBucket(ctx, h.js, partition.ActionBucket(cfg.NATS.Stream)); err != nil {
			closeAll()
			return nil, nil, err
		}
		return h, closeAll, nil
	}
	actions, err := openActions(cfg, log)
	if err != nil {
		closeAll()
		return nil, nil, err
	}
	h.actions = actions
	closers = append(closers, func() { actions.Close() })
	return h, closeAll, nil
}

// single builds the one partition of a hub that is not partitioned: its
// parts run until ctx ends, and its API is the hub's.
func (h *hub) single(context.Context) (func(context.Context) error, http.Handler, error) {
	md, err := h.openMasterData()
	if err != nil {
		return nil, nil, err
	}
	pt, err := h.openPart(partSpec{p: 0, n: 1, path: h.cfg.StatePath()}, h.log)
	if err != nil {
		md.Close()
		return nil, nil, err
	}
	hooks := pt.masterDataHooks(h)
	hooks.Rosters, hooks.Calendars = h.dated.Set, h.cals.set
	h.md.SetHooks(hooks)
	ccfg := consumeConfig(h.cfg)
	run := func(ctx context.Context) error {
		defer md.Close()
		defer pt.close()
		return pt.run(ctx, func(ctx context.Context) error {
			return consume.Run(ctx, h.js, ccfg, pt.handle, h.stats, pt.log.With("part", "consume"))
		})
	}
	return run, h.withMasterData(pt.api), nil
}

// consumeConfig is what the hub consumes, from the configuration.
func consumeConfig(cfg *config.Config) consume.Config {
	return consume.Config{
		Stream: cfg.NATS.Stream, SubjectPrefix: cfg.NATS.SubjectPrefix, Consumer: cfg.NATS.Consumer,
		DuplicateWindow: cfg.NATS.DuplicateWindow, MaxAge: cfg.NATS.MaxAge, MaxBytes: int64(cfg.NATS.MaxBytes), Batch: cfg.NATS.Batch,
		Partitions: cfg.Partitions.Count,
	}
}

// openInflux returns the InfluxDB writer once InfluxDB answers; nil (and no
// error) when ctx ends first.
func openInflux(ctx context.Context, cfg *config.Config, log *slog.Logger) (*influx.Writer, error) {
	w := influx.New(influx.Config{URL: cfg.Influx.URL, Token: cfg.Influx.Token.Value(), Org: cfg.Influx.Org,
		Bucket: cfg.Influx.Bucket, CreateDatabase: cfg.Influx.CreateDatabase, Timeout: cfg.Influx.Timeout})
	for attempt := 0; ; attempt++ {
		err := w.Prepare(ctx)
		if err == nil {
			return w, nil
		}
		if attempt%10 == 0 {
			log.Warn("influxdb not ready; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			w.Close()
			return nil, nil
		case <-time.After(time.Second):
		}
	}
}
