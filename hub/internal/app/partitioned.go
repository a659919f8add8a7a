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

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/consume"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/partition"
)

// partitioned is one of several hubs sharing the stream's partitions: a
// coordinator holds partition leases and runs runPartition for each.
type partitioned struct {
	*hub
	log   *slog.Logger // the hub's, with its id
	hubID string
	obs   jetstream.ObjectStore
	dir   string // local copies of the partitions' stores

	mu   sync.Mutex
	apis map[int]http.Handler // the HTTP API of each held partition
}

// heartbeat is the value of a hub's heartbeat key.
type heartbeat struct {
	Hub  string `json:"hub"`
	HTTP string `json:"http,omitempty"`
}

// partitioned prepares the stream, the lease bucket and the snapshot store
// of a partitioned hub; the returned function runs its coordinator, which
// hands its partitions over (final flush and snapshot) before it returns.
func (h *hub) partitioned(ctx context.Context) (func(context.Context) error, http.Handler, error) {
	cfg := h.cfg
	id := cfg.Partitions.HubID
	if id == "" {
		id = defaultHubID()
	}
	s := &partitioned{hub: h, log: h.log.With("hub", id), hubID: id, dir: cfg.PartitionsDir(), apis: map[int]http.Handler{}}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("data_dir: %w", err)
	}
	if _, err := consume.EnsureStream(ctx, s.js, consumeConfig(cfg)); err != nil {
		return nil, nil, fmt.Errorf("partitions.count: %w", err)
	}
	kv, err := partition.Bucket(ctx, s.js, partition.LeaseBucket(cfg.NATS.Stream), cfg.Partitions.LeaseTTL)
	if err != nil {
		return nil, nil, err
	}
	if s.obs, err = snapshotStore(ctx, s.js, cfg.NATS.Stream); err != nil {
		return nil, nil, fmt.Errorf("state bucket: %w", err)
	}
	md, err := h.openSharedMasterData(ctx)
	if err != nil {
		return nil, nil, err
	}
	info, _ := json.Marshal(heartbeat{Hub: s.hubID, HTTP: cfg.HTTP.Listen})
	coord := partition.New(kv, partition.Config{Count: cfg.Partitions.Count, TTL: cfg.Partitions.LeaseTTL,
		HubID: s.hubID, Info: info}, s.runPartition, s.log.With("part", "partitions"))
	base := api.New(engine.New(engine.Options{Location: cfg.Location}, nil), cfg.Location, cfg.Site, s.nc)
	run := func(ctx context.Context) error {
		g, gctx := errgroup.WithContext(ctx)
		wctx, stopWatch := context.WithCancel(context.WithoutCancel(ctx))
		g.Go(func() error {
			defer stopWatch() // the partitions' last figures are written with the master data applied
			return coord.Run(gctx)
		})
		g.Go(func() error { return md.Run(wctx) })
		return g.Wait()
	}
	// The master data is served by every hub: it is the stream's, not a partition's.
	return run, h.withMasterData(s.router(coord, base)), nil
}

// snapshotStore opens (or creates) the object store of partition snapshots.
func snapshotStore(ctx context.Context, js jetstream.JetStream, stream string) (jetstream.ObjectStore, error) {
	obs, err := js.ObjectStore(ctx, partition.StateBucket(stream))
	if !errors.Is(err, jetstream.ErrBucketNotFound) {
		return obs, err
	}
	obs, err = js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: partition.StateBucket(stream), Description: "floorpulse partition state snapshots",
		Storage: jetstream.FileStorage,
	})
	if errors.Is(err, jetstream.ErrBucketExists) { // another hub was quicker
		return js.ObjectStore(ctx, partition.StateBucket(stream))
	}
	return obs, err
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
// hub holds it, and otherwise redirects to the hub that does (health is
// always answered here, and so are the metrics, beside the router).
func (s *partitioned) router(coord *partition.Coordinator, base http.Handler) http.Handler {
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
		case "/healthz", "/readyz":
			base.ServeHTTP(w, r)
			return
		}
		if hub, info, ok := coord.Owner(p); ok && hub != s.hubID {
			var hb heartbeat
			if json.Unmarshal(info, &hb) == nil && hb.HTTP != "" {
				http.Redirect(w, r, s.cfg.HTTP.Scheme()+"://"+hb.HTTP+r.URL.RequestURI(), http.StatusTemporaryRedirect)
				return
			}
		}
		http.Error(w, fmt.Sprintf("site %s (partition %d) is not served by this hub right now", s.cfg.Site, p), http.StatusServiceUnavailable)
	})
}

func (s *partitioned) setAPI(p int, h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h == nil {
		delete(s.apis, p)
	} else {
		s.apis[p] = h
	}
}

// partitionPath is the local store of partition p.
func (s *partitioned) partitionPath(p int) string {
	return filepath.Join(s.dir, fmt.Sprintf("p%d.db", p))
}
