// Package app wires the hub: NATS (embedded or external), the durable state
// store, the activity engine, the InfluxDB writer and the HTTP API, each a
// Run(ctx) part supervised together. The order of a batch's effects is the
// hub's delivery guarantee: state store commit, then InfluxDB write, then
// JetStream ack. A crash anywhere before the ack redelivers the batch, and
// both writes are idempotent, so nothing is lost or counted twice.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/broker"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/consume"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/influx"
	"github.com/floorpulse/floorpulse/hub/internal/recompute"
	"github.com/floorpulse/floorpulse/hub/internal/store"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Run runs the hub until ctx ends. With partitions.count above 1 it is one of
// several hubs sharing the stream's partitions (see partitioned.go).
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	if cfg.Partitions.Count > 1 {
		return runPartitioned(ctx, cfg, log)
	}
	st, err := store.Open(filepath.Join(cfg.DataDir, "state.db"))
	if err != nil {
		return err
	}
	defer st.Close()
	saved, err := st.Load()
	if err != nil {
		return err
	}
	registry := Registry(cfg)
	eng := engine.New(Options(cfg), saved)
	pend, err := st.Pending()
	if err != nil {
		return err
	}
	log.Info("state loaded", "equipment", len(saved), "registered", len(registry), "pending", len(pend))

	w, err := openInflux(ctx, cfg, log)
	if w == nil || err != nil {
		return err
	}
	defer w.Close()

	g, ctx := errgroup.WithContext(ctx)
	nc, closeNATS, err := connectNATS(cfg, log)
	if err != nil {
		return err
	}
	defer closeNATS()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}

	ev, err := openEvents(cfg, js, log)
	if err != nil {
		return err
	}
	defer ev.Close()
	runner, err := newRunner(cfg, eng, ev, log)
	if err != nil {
		return err
	}

	stats := &consume.Stats{}
	fl := newFlusher(eng, st, w, cfg.Influx.Timeout, log.With("part", "flush"))
	fl.after = runner.Flushed
	fl.mark(pend)
	handle := func(ctx context.Context, sigs []signal.Signal) error {
		changes, dirty := eng.Apply(sigs)
		fl.mark(dirty) // before the commit: a flush in between keeps the stored range
		if err := st.Save(changes, dirty); err != nil {
			return fmt.Errorf("saving state: %w", err)
		}
		return runner.Signals(sigs) // gauge events stored before the ack
	}
	rc := recompute.NewService(eng, w, st, log.With("part", "recompute"))
	g.Go(func() error { return fl.Run(ctx, cfg.Activity.FlushInterval) })
	g.Go(func() error { return ev.Run(ctx) })
	g.Go(func() error { return runner.Run(ctx, liveTick) })
	g.Go(func() error { return rc.Run(ctx) })
	g.Go(func() error {
		return consume.Run(ctx, js, consumeConfig(cfg), handle, stats, log.With("part", "consume"))
	})
	serveHTTP(ctx, g, cfg.HTTP, api.New(eng, stats, cfg.Location, cfg.Site, nc,
		api.WithRecompute(rc), api.WithEvents(ev.Handler()), api.WithOpenEvents(openEventsOf(ev, log))), log)
	return g.Wait()
}

// consumeConfig is what the hub consumes, from the configuration.
func consumeConfig(cfg *config.Config) consume.Config {
	return consume.Config{
		Stream: cfg.NATS.Stream, SubjectPrefix: cfg.NATS.SubjectPrefix, Consumer: cfg.NATS.Consumer,
		DuplicateWindow: cfg.NATS.DuplicateWindow, MaxAge: cfg.NATS.MaxAge, Batch: cfg.NATS.Batch,
		Partitions: cfg.Partitions.Count,
	}
}

// openInflux returns the InfluxDB writer once InfluxDB answers; nil (and no
// error) when ctx ends first.
func openInflux(ctx context.Context, cfg *config.Config, log *slog.Logger) (*influx.Writer, error) {
	w := influx.New(influx.Config{URL: cfg.Influx.URL, Token: cfg.Influx.Token, Org: cfg.Influx.Org,
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

// connectNATS starts the embedded server when no nats.url is configured and
// connects to the server; the returned function closes both.
func connectNATS(cfg *config.Config, log *slog.Logger) (*nats.Conn, func(), error) {
	natsURL := cfg.NATS.URL
	var srv *broker.Server
	if natsURL == "" {
		storeDir := cfg.NATS.StoreDir
		if storeDir == "" {
			storeDir = filepath.Join(cfg.DataDir, "jetstream")
		}
		var err error
		srv, err = broker.Start(cfg.NATS.Listen, storeDir, log.With("part", "nats"))
		if err != nil {
			return nil, nil, err
		}
		natsURL = srv.URL()
	}
	nc, err := nats.Connect(natsURL, natsOptions(cfg, log)...)
	if err != nil {
		if srv != nil {
			srv.Close()
		}
		return nil, nil, fmt.Errorf("connecting to nats %s: %w", natsURL, err)
	}
	return nc, func() {
		nc.Close()
		if srv != nil {
			srv.Close()
		}
	}, nil
}

// serveHTTP serves h on addr (none when empty) until ctx ends.
func serveHTTP(ctx context.Context, g *errgroup.Group, addr string, h http.Handler, log *slog.Logger) {
	if addr == "" {
		return
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	g.Go(func() error {
		log.Info("http listening", "addr", "http://"+addr)
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
}

// Options are the engine options of a configuration.
func Options(cfg *config.Config) engine.Options {
	return engine.Options{
		Location: cfg.Location, Registry: Registry(cfg), Threshold: cfg.Threshold,
		Timeout: cfg.State.SignalTimeout, MaxLateness: cfg.State.MaxLateness, StateCodes: cfg.StateCodes(), Calendar: cfg.CalendarOf,
		Kinds: cfg.Activity.Periods, Tiers: cfg.Tiers(), IdleRunningAfter: cfg.Activity.IdleRunningAfter,
		OperatorThreshold: cfg.Operators.ActiveThreshold, OperatorTiers: cfg.OperatorTiers(), Attrition: cfg.AttritionRule(),
	}
}

// Registry expands the configured equipment registry.
func Registry(cfg *config.Config) []activity.Equipment {
	var out []activity.Equipment
	for _, r := range cfg.Registry {
		site := r.Site
		if site == "" {
			site = cfg.Site
		}
		for _, id := range r.IDs {
			out = append(out, activity.Equipment{Key: signal.Key{Site: site, Line: r.Line, Equipment: id}, Class: r.Class, Registered: true})
		}
	}
	return out
}

func natsOptions(cfg *config.Config, log *slog.Logger) []nats.Option {
	opts := []nats.Option{
		nats.Name("floorpulse-hub"),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(c *nats.Conn) { log.Info("nats reconnected", "url", c.ConnectedUrl()) }),
	}
	if cfg.NATS.User != "" {
		opts = append(opts, nats.UserInfo(cfg.NATS.User, cfg.NATS.Password))
	}
	if cfg.NATS.Token != "" {
		opts = append(opts, nats.Token(cfg.NATS.Token))
	}
	return opts
}
