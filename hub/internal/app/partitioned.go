package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/consume"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/events"
	"github.com/floorpulse/floorpulse/hub/internal/influx"
	"github.com/floorpulse/floorpulse/hub/internal/partition"
)

// shared is what a partitioned hub's partitions have in common.
type shared struct {
	cfg   *config.Config
	log   *slog.Logger
	hubID string
	nc    *nats.Conn
	js    jetstream.JetStream
	obs   jetstream.ObjectStore
	w     *influx.Writer
	stats *consume.Stats
	dir   string // local copies of the partitions' stores
	ev    *events.Store

	mu   sync.Mutex
	apis map[int]http.Handler // the HTTP API of each held partition
}

// heartbeat is the value of a hub's heartbeat key.
type heartbeat struct {
	Hub  string `json:"hub"`
	HTTP string `json:"http,omitempty"`
}

// runPartitioned runs one of several hubs sharing the stream's partitions:
// a coordinator holds partition leases and runs runPartition for each.
func runPartitioned(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	s := &shared{cfg: cfg, hubID: cfg.Partitions.HubID, stats: &consume.Stats{},
		dir: filepath.Join(cfg.DataDir, "partitions"), apis: map[int]http.Handler{}}
	if s.hubID == "" {
		s.hubID = defaultHubID()
	}
	s.log = log.With("hub", s.hubID)
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return fmt.Errorf("data_dir: %w", err)
	}
	w, err := openInflux(ctx, cfg, log)
	if w == nil || err != nil {
		return err
	}
	defer w.Close()
	s.w = w
	nc, closeNATS, err := connectNATS(cfg, log)
	if err != nil {
		return err
	}
	defer closeNATS()
	s.nc = nc
	if s.js, err = jetstream.New(nc); err != nil {
		return err
	}
	if s.ev, err = openEvents(cfg, s.js, log); err != nil {
		return err
	}
	defer s.ev.Close()
	if _, err := consume.EnsureStream(ctx, s.js, consumeConfig(cfg)); err != nil {
		return fmt.Errorf("partitions.count: %w", err)
	}
	kv, err := partition.Bucket(ctx, s.js, partition.LeaseBucket(cfg.NATS.Stream), cfg.Partitions.LeaseTTL)
	if err != nil {
		return err
	}
	s.obs, err = s.js.ObjectStore(ctx, partition.StateBucket(cfg.NATS.Stream))
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		s.obs, err = s.js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket: partition.StateBucket(cfg.NATS.Stream), Description: "floorpulse partition state snapshots",
			Storage: jetstream.FileStorage,
		})
		if errors.Is(err, jetstream.ErrBucketExists) { // another hub was quicker
			s.obs, err = s.js.ObjectStore(ctx, partition.StateBucket(cfg.NATS.Stream))
		}
	}
	if err != nil {
		return fmt.Errorf("state bucket: %w", err)
	}
	info, _ := json.Marshal(heartbeat{Hub: s.hubID, HTTP: cfg.HTTP})
	coord := partition.New(kv, partition.Config{Count: cfg.Partitions.Count, TTL: cfg.Partitions.LeaseTTL,
		HubID: s.hubID, Info: info}, s.runPartition, s.log.With("part", "partitions"))

	g, gctx := errgroup.WithContext(ctx)
	// However the group's context ends, the coordinator hands its
	// partitions over (final flush and snapshot) before it returns.
	g.Go(func() error { return coord.Run(gctx) })
	g.Go(func() error { return s.ev.Run(gctx) })
	base := api.New(engine.New(engine.Options{Location: cfg.Location}, nil), s.stats, cfg.Location, cfg.Site, nc)
	serveHTTP(gctx, g, cfg.HTTP, s.router(coord, base), log)
	return g.Wait()
}

// defaultHubID is the host name and process id: unique among running hubs.
func defaultHubID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "hub"
	}
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, host)
	if len(clean) > 48 {
		clean = clean[:48]
	}
	return fmt.Sprintf("%s-%d", clean, os.Getpid())
}

// router serves the HTTP API of the configured site's partition when this
// hub holds it, and otherwise redirects to the hub that does (health and
// metrics are always answered here).
func (s *shared) router(coord *partition.Coordinator, base http.Handler) http.Handler {
	p := partition.Of(s.cfg.Site, s.cfg.Partitions.Count)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		h := s.apis[p]
		s.mu.Unlock()
		if h != nil {
			h.ServeHTTP(w, r)
			return
		}
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			base.ServeHTTP(w, r)
			return
		}
		if hub, info, ok := coord.Owner(p); ok && hub != s.hubID {
			var hb heartbeat
			if json.Unmarshal(info, &hb) == nil && hb.HTTP != "" {
				http.Redirect(w, r, "http://"+hb.HTTP+r.URL.RequestURI(), http.StatusTemporaryRedirect)
				return
			}
		}
		http.Error(w, fmt.Sprintf("site %s (partition %d) is not served by this hub right now", s.cfg.Site, p), http.StatusServiceUnavailable)
	})
}

func (s *shared) setAPI(p int, h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h == nil {
		delete(s.apis, p)
	} else {
		s.apis[p] = h
	}
}
