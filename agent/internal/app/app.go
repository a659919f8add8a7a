// Package app wires the agent together: sources (MQTT, OPC UA) hand signals
// to one group committer writing the bbolt queue, the forwarder drains the
// queue to JetStream, a sweeper expires records past buffer.max_age, and an
// HTTP server reports health and metrics. Every part is Run(ctx) error,
// supervised by one errgroup; the queue file is closed after all of them
// returned.
//
// The agent starts without NATS: only the queue file and the HTTP listener
// must be available. The NATS client reconnects in the background while the
// sources commit to the queue.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/floorpulse/floorpulse/agent/internal/buffer"
	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/forward"
	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/agent/internal/source/mqtt"
	"github.com/floorpulse/floorpulse/agent/internal/source/opcua"
	"github.com/floorpulse/floorpulse/pkg/redact"
)

// QueueFile is the queue's file name inside data_dir.
const QueueFile = "queue.db"

// App is one agent.
type App struct {
	cfg     *config.Config
	log     *slog.Logger
	Metrics *metrics.Registry
}

// New returns an agent for a validated configuration.
func New(cfg *config.Config, log *slog.Logger) *App {
	return &App{cfg: cfg, log: log, Metrics: &metrics.Registry{}}
}

// Run runs the agent until ctx ends or a part fails.
func (a *App) Run(ctx context.Context) error {
	cfg := a.cfg
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("creating data_dir: %w", err)
	}
	policy, err := buffer.ParsePolicy(cfg.Buffer.Policy)
	if err != nil {
		return fmt.Errorf("buffer.policy: %w", err)
	}
	blog := a.log.With("component", "buffer")
	q, err := buffer.OpenWith(filepath.Join(cfg.DataDir, QueueFile), buffer.Options{
		MaxBytes: uint64(cfg.Buffer.MaxBytes), Policy: policy, MaxAge: cfg.Buffer.MaxAge, Log: blog,
	})
	if err != nil {
		return err
	}
	defer q.Close()
	batcher := buffer.NewBatcher(q, cfg.Buffer.CommitMax, cfg.Buffer.CommitLinger, blog)
	a.Metrics.SetQueue(func() metrics.Queue {
		dropped := q.Drops()
		dropped["invalid"] = batcher.Invalid()
		return metrics.Queue{
			Records: q.Len(), Bytes: q.Bytes(), FileBytes: uint64(max(0, q.FileSize())),
			OldestAge: q.OldestAge(), Dropped: dropped, Blocked: batcher.Blocked(),
		}
	})
	a.log.Info("queue opened", "records", q.Len(), "bytes", q.Bytes(), "file_bytes", q.FileSize(),
		"policy", policy, "max_bytes", uint64(cfg.Buffer.MaxBytes), "max_age", cfg.Buffer.MaxAge)

	var ln net.Listener
	if cfg.HTTP != "" {
		if ln, err = net.Listen("tcp", cfg.HTTP); err != nil {
			return fmt.Errorf("http: %w", err)
		}
	}

	nc, err := forward.Connect(cfg.NATS, "floorpulse-agent-"+cfg.AgentID, a.Metrics, a.log.With("component", "nats"))
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return err
	}
	defer nc.Close()

	fwd := forward.New(q, nc, cfg.NATS, a.Metrics, a.log.With("component", "forward"))

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return batcher.Run(gctx) })
	g.Go(func() error { return fwd.Run(gctx) })
	if cfg.Buffer.MaxAge > 0 {
		sweeper := buffer.NewSweeper(q, blog)
		g.Go(func() error { return sweeper.Run(gctx) })
	}
	for i, m := range cfg.MQTT {
		stat := a.Metrics.Source("mqtt", redact.URL(m.Broker))
		src := mqtt.New(m, cfg.AgentID, cfg.Site, batcher, stat, a.log.With("source", fmt.Sprintf("mqtt[%d]", i), "broker", redact.URL(m.Broker)), mqtt.WithState(q))
		g.Go(func() error { return src.Run(gctx) })
	}
	if err := opcua.RemoveStaleSessions(cfg.DataDir, cfg.OPCUA); err != nil {
		a.log.Warn("removing saved opc ua sessions no source resumes failed", "err", err)
	}
	for i, o := range cfg.OPCUA {
		stat := a.Metrics.Source("opcua", redact.URL(o.Endpoint))
		src := opcua.New(o, cfg.AgentID, cfg.Site, batcher, stat, a.log.With("source", fmt.Sprintf("opcua[%d]", i), "endpoint", redact.URL(o.Endpoint)), opcua.WithState(q))
		g.Go(func() error { return src.Run(gctx) })
	}
	if ln != nil {
		srv := &http.Server{Handler: a.Metrics.Handler(), ReadHeaderTimeout: 5 * time.Second}
		g.Go(func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http: %w", err)
			}
			return nil
		})
		g.Go(func() error {
			<-gctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		})
		a.log.Info("http listening", "addr", ln.Addr().String())
	}
	a.log.Info("agent running", "agent_id", cfg.AgentID, "mqtt", len(cfg.MQTT), "opcua", len(cfg.OPCUA))
	err = g.Wait()
	a.log.Info("agent stopped", "queue_records", q.Len())
	return err
}
