package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
)

// batch is how many due items a worker takes at a time.
const batch = 100

// Run delivers the outbox and runs the alert timers until ctx ends: one
// worker publishes to the stream (creating or updating it first), one per
// webhook endpoint posts, and a loop fires the due timers every Poll.
func (s *Store) Run(ctx context.Context) error {
	if s.opts.Stream.Name != "" && s.opts.JetStream == nil {
		return errors.New("events: a stream is configured but there is no JetStream connection")
	}
	if err := s.orphans(s.opts.Clock()); err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	if s.opts.Stream.Name != "" {
		g.Go(func() error { return s.streamWorker(ctx) })
	}
	for _, name := range s.endpointNames() {
		e := s.endpoints[name]
		log := s.log.With("endpoint", e.Name)
		g.Go(func() error {
			return s.work(ctx, e.Name, e.MaxAttempts, func(ctx context.Context, it item) error { return s.post(ctx, e, it) }, log)
		})
	}
	g.Go(func() error {
		t := time.NewTicker(s.opts.Poll)
		defer t.Stop()
		for {
			if err := s.Due(s.opts.Clock()); err != nil {
				return fmt.Errorf("alert timers: %w", err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	})
	return g.Wait()
}

func (s *Store) streamWorker(ctx context.Context) error {
	log := s.log.With("stream", s.opts.Stream.Name)
	cfg := s.opts.Stream
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := s.opts.JetStream.CreateOrUpdateStream(cctx, jetstream.StreamConfig{
			Name:        cfg.Name,
			Description: "floorpulse anomaly events (CloudEvents 1.0 JSON)",
			Subjects:    []string{cfg.SubjectPrefix + ".>"},
			Storage:     jetstream.FileStorage,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      cfg.MaxAge,
			Duplicates:  cfg.DuplicateWindow,
			Replicas:    max(cfg.Replicas, 1),
		})
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if attempt%10 == 1 {
			log.Warn("creating the events stream failed; retrying", "err", err)
		}
		if !s.sleep(ctx, s.backoff(attempt)) {
			return nil
		}
	}
	return s.work(ctx, destStream, 0, s.publish, log)
}

func (s *Store) publish(ctx context.Context, it item) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := s.opts.JetStream.Publish(ctx, it.Subject, it.Body, jetstream.WithMsgID(it.ID), jetstream.WithExpectStream(s.opts.Stream.Name))
	return err
}

// work delivers dest's due items until ctx ends; maxAttempts 0 retries forever.
func (s *Store) work(ctx context.Context, dest string, maxAttempts int, deliver func(context.Context, item) error, log interface {
	Warn(string, ...any)
	Error(string, ...any)
}) error {
	failures := 0
	for {
		items, next, err := s.due(dest, s.opts.Clock(), batch)
		if err != nil {
			return err
		}
		for _, it := range items {
			err := deliver(ctx, it)
			if ctx.Err() != nil {
				return nil
			}
			if err == nil {
				failures = 0
				if err := s.delivered(it); err != nil {
					return err
				}
				continue
			}
			dead, ferr := s.failed(it, err, maxAttempts, s.opts.Clock())
			if ferr != nil {
				return ferr
			}
			if dead {
				log.Error("delivery failed for the last time: moved to the dead letters", "id", it.ID, "kind", it.Kind, "attempts", it.Attempts+1, "err", err)
			} else if failures++; failures == 1 || failures%20 == 0 {
				log.Warn("delivery failed; retrying", "id", it.ID, "attempt", it.Attempts+1, "failures", failures, "err", err)
			}
		}
		if len(items) == batch {
			continue
		}
		wait := s.opts.Poll
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(s.opts.Clock()), 0))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-s.wake[dest]:
		case <-t.C:
		}
		t.Stop()
	}
}

func (s *Store) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
