// Package events puts the anomaly event parts together into the hub's
// event Store: the ledger of records in one bbolt file (package ledger),
// the deliveries each change causes (routed and sent by package delivery,
// as package payload renders them), the downtime alerts (package notify,
// deciding with package alert) and the REST API (package rest).
//
// What always holds: a record change, the deliveries it causes (outbox
// items) and the alert state it changes are written in one bbolt
// transaction; an outbox item is removed only after its receiver accepted
// it; every delivery carries the dedupe key "<record id>-<revision>".
// docs/delivery.md has the guarantee end to end.
package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/floorpulse/floorpulse/hub/internal/events/delivery"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
	"github.com/floorpulse/floorpulse/hub/internal/events/notify"
	"github.com/floorpulse/floorpulse/hub/internal/events/payload"
	"github.com/floorpulse/floorpulse/hub/internal/events/rest"
)

// Store is the durable record of anomaly events (the embedded ledger) with
// the workers that deliver its changes.
type Store struct {
	*ledger.Store
	opts   Options
	router *delivery.Router
	counts map[string]*delivery.Counts // per destination
}

// Open opens (or creates) the store at path.
func Open(path string, opts Options) (*Store, error) {
	opts.setDefaults()
	text := payload.Text{Location: opts.Location, PublicURL: opts.PublicURL, People: opts.Alerts.Roster.People, Sign: opts.SignLink}
	router, err := delivery.NewRouter(opts.Stream, opts.Webhooks, text)
	if err != nil {
		return nil, err
	}
	formats := map[string]string{}
	for _, e := range router.Endpoints() {
		formats[e.Name] = e.Format
	}
	alerts := &notify.Alerts{Policy: opts.Alerts, Calendar: opts.Calendar, Formats: formats, Text: text, Log: opts.Log}
	l, err := ledger.Open(path, ledger.Options{Dests: router.Dests(), Router: router, Alerter: alerts, Log: opts.Log})
	if err != nil {
		return nil, err
	}
	counts := map[string]*delivery.Counts{}
	if opts.Stream.Name != "" {
		counts[delivery.StreamDest] = &delivery.Counts{}
	}
	for _, e := range router.Endpoints() {
		counts[e.Name] = &delivery.Counts{}
	}
	return &Store{Store: l, opts: opts, router: router, counts: counts}, nil
}

// Counts are the delivery attempts per destination (the stream's is
// delivery.StreamDest, a webhook's its endpoint name).
func (s *Store) Counts() map[string]*delivery.Counts { return s.counts }

// Handler serves the events API under /api/v1/events (see package rest).
func (s *Store) Handler() http.Handler {
	return rest.New(s.Store, s.Store, s.opts.Clock, s.opts.Location)
}

// Run delivers the outbox and runs the alert timers until ctx ends: one
// worker publishes to the stream (creating or updating it first), one per
// webhook endpoint posts, and a loop fires the due timers every Poll.
func (s *Store) Run(ctx context.Context) error {
	if s.opts.Stream.Name != "" && s.opts.JetStream == nil {
		return errors.New("events: a stream is configured but there is no JetStream connection")
	}
	if err := s.Orphans(s.opts.Clock()); err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	if s.opts.Stream.Name != "" {
		g.Go(func() error { return s.runStream(ctx) })
	}
	for _, e := range s.router.Endpoints() {
		wh := &delivery.Webhook{Endpoint: e, Client: s.opts.HTTPClient, Clock: s.opts.Clock}
		w := s.worker(e.Name, e.MaxAttempts, wh, s.opts.Log.With("endpoint", e.Name))
		g.Go(func() error { return w.Run(ctx) })
	}
	g.Go(func() error { return s.runTimers(ctx) })
	return g.Wait()
}

func (s *Store) runStream(ctx context.Context) error {
	log := s.opts.Log.With("stream", s.opts.Stream.Name)
	st := &delivery.Stream{Config: s.opts.Stream, JS: s.opts.JetStream, Backoff: s.backoff(), Log: log}
	if !st.Create(ctx) {
		return nil
	}
	return s.worker(delivery.StreamDest, 0, st, log).Run(ctx)
}

// worker returns the worker of dest (maxAttempts 0: retry forever).
func (s *Store) worker(dest string, maxAttempts int, sender delivery.Sender, log *slog.Logger) *delivery.Worker {
	return &delivery.Worker{Dest: dest, Sender: sender, Outbox: s.Store, MaxAttempts: maxAttempts, Backoff: s.backoff(),
		Clock: s.opts.Clock, Poll: s.opts.Poll, Log: log, Counts: s.counts[dest]}
}

func (s *Store) backoff() delivery.Backoff {
	return delivery.Backoff{Min: s.opts.RetryMin, Max: s.opts.RetryMax}
}

// runTimers fires the due alert timers every Poll, with the store's clock.
func (s *Store) runTimers(ctx context.Context) error {
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
}
