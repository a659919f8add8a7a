package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/pkg/compact"
)

// retentionEvery is how often retention runs (also once at start).
const retentionEvery = 24 * time.Hour

// horizon is the restatement horizon at now: the start of the plant-local
// month holding the instant keep ago. Nothing older is restated.
func horizon(now time.Time, keep time.Duration, loc *time.Location) time.Time {
	return activity.MonthOf(now.Add(-keep), loc).Start
}

// trimMargin is how far before the horizon the timelines are kept whole:
// a shift over the horizon (at most a day) and the idle-running look-back.
func trimMargin(cfg *config.Config) time.Duration {
	return 24*time.Hour + cfg.Activity.IdleRunningAfter
}

// daily runs f at once and then every retentionEvery until ctx ends. An
// error of f is logged (the next run tries again), never fatal.
func daily(ctx context.Context, log *slog.Logger, f func(now time.Time) error) error {
	t := time.NewTicker(retentionEvery)
	defer t.Stop()
	for {
		if err := f(time.Now()); err != nil {
			log.Warn("retention failed; trying again in a day", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// retainState moves the partition's horizon and trims its timelines, in the
// store and in the engine, with no batch committed in between (pt.commit).
func (pt *part) retainState(ctx context.Context, cfg *config.Config) error {
	if cfg.Retention.State == 0 {
		return nil
	}
	log := pt.log.With("part", "retention")
	return daily(ctx, log, func(now time.Time) error {
		floor := horizon(now, cfg.Retention.State, cfg.Location)
		before := floor.Add(-trimMargin(cfg))
		pt.commit.Lock()
		defer pt.commit.Unlock()
		pt.eng.SetFloor(floor.UnixNano())
		began := time.Now()
		n, err := pt.st.Trim(before.UnixNano(), floor.UnixNano())
		if err != nil {
			return fmt.Errorf("trimming the state store: %w", err)
		}
		pt.eng.Trim(before.UnixNano())
		log.Info("state retention", "horizon", floor, "trimmed_equipment", n.Equipment, "deleted_records", n.Records,
			"took", time.Since(began).Round(time.Millisecond))
		return nil
	})
}

// retainEvents deletes old resolved events and old dead letters.
func (h *hub) retainEvents(ctx context.Context) error {
	r := h.cfg.Retention
	if r.Events == 0 && r.DeadLetters == 0 {
		return nil
	}
	log := h.log.With("part", "retention")
	return daily(ctx, log, func(now time.Time) error {
		var records, dead time.Time
		if r.Events > 0 {
			records = now.Add(-r.Events)
		}
		if r.DeadLetters > 0 {
			dead = now.Add(-r.DeadLetters)
		}
		n, err := h.ev.Prune(records, dead)
		if err != nil {
			return fmt.Errorf("pruning the event store: %w", err)
		}
		if n.Records > 0 || n.DeadLetters > 0 {
			log.Info("event retention", "deleted_records", n.Records, "deleted_dead_letters", n.DeadLetters)
		}
		return nil
	})
}

// compactFile compacts a store file that is mostly free pages, before it
// is opened.
func compactFile(path string, log *slog.Logger) error {
	if err := compact.IfBloated(path, compact.MinBytes, log); err != nil {
		return fmt.Errorf("compacting %s: %w", path, err)
	}
	return nil
}

// eventsPath is the event store's file.
func eventsPath(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "events.db") }

// stateBytes is the size of the state store files on disk: state.db and
// every partition's local copy.
func stateBytes(cfg *config.Config) int64 {
	paths, _ := filepath.Glob(filepath.Join(cfg.PartitionsDir(), "*.db"))
	return fileBytes(append(paths, cfg.StatePath())...)
}

func fileBytes(paths ...string) int64 {
	var n int64
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// streamUse reads the signals stream's size from JetStream at most every
// streamUseEvery, so a scrape is not a JetStream request each time.
type streamUse struct {
	js     jetstream.JetStream
	stream string

	mu          sync.Mutex
	at          time.Time
	bytes, msgs uint64
	ok          bool
}

const streamUseEvery = 5 * time.Second

// get returns the stream's bytes and messages; ok is false when they could
// not be read yet.
func (s *streamUse) get() (bytes, msgs uint64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.at) < streamUseEvery {
		return s.bytes, s.msgs, s.ok
	}
	s.at = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := s.js.Stream(ctx, s.stream)
	if err != nil {
		return s.bytes, s.msgs, s.ok
	}
	info := st.CachedInfo()
	s.bytes, s.msgs, s.ok = info.State.Bytes, info.State.Msgs, true
	return s.bytes, s.msgs, s.ok
}
