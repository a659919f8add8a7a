package recompute

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Pending is the hub's durable set of ranges whose figures are still to be
// written (store.Store): the flusher writes what it holds at the next start.
type Pending interface {
	Save(changes []state.Change, dirty map[signal.Key]state.Range) error
	Written(done map[signal.Key]state.Range) error
}

// Service runs recomputes inside the hub, one at a time, for the HTTP API.
// Before it writes anything it stores the range as pending for all
// equipment, and clears it when every period is written, so a recompute cut
// short by a crash is finished by the flusher when the hub starts again.
//
// A period that receives data while the recompute runs is written by both,
// from the timelines as each saw them; the next signal of that period makes
// the flusher write it again, so the current periods are right within a
// flush interval, and closed periods do not change under a recompute unless
// late data arrives for them at that moment.
type Service struct {
	eng  *engine.Engine
	w    Writer
	pend Pending // may be nil
	log  *slog.Logger
	jobs chan [2]time.Time
	// check refuses a range (recompute.max_range); nil takes any.
	check func(from, to time.Time) error

	mu   sync.Mutex
	last Progress
}

// NewService builds a service; pend may be nil (nothing stored as pending).
func NewService(eng *engine.Engine, w Writer, pend Pending, log *slog.Logger, opts ...Option) *Service {
	s := &Service{eng: eng, w: w, pend: pend, log: log, jobs: make(chan [2]time.Time, 1)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Option configures a Service.
type Option func(*Service)

// WithLimit refuses the ranges check returns an error for (wrapped in
// ErrRange): the hub's recompute.max_range.
func WithLimit(check func(from, to time.Time) error) Option {
	return func(s *Service) { s.check = check }
}

// ErrRange is returned by Start for a range the service refuses.
var ErrRange = errors.New("recompute range refused")

// Start asks for a recompute of [from, to). It returns an ErrRange for a
// range its limit refuses, and ErrBusy while one runs; Run does the work.
func (s *Service) Start(from, to time.Time) (Progress, error) {
	if s.check != nil {
		if err := s.check(from, to); err != nil {
			return s.Status(), fmt.Errorf("%w: %w", ErrRange, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last.Running {
		return s.last, ErrBusy
	}
	select {
	case s.jobs <- [2]time.Time{from, to}:
	default:
		return s.last, ErrBusy
	}
	s.last = Progress{From: from, To: to, Running: true, Started: time.Now(), Total: len(s.eng.Periods(from, to))}
	return s.last, nil
}

// Status returns the progress of the running or latest recompute (zero
// before the first).
func (s *Service) Status() Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.last
	if p.Running {
		p.Elapsed = time.Since(p.Started)
	}
	return p
}

// Run runs the requested recomputes until ctx ends.
func (s *Service) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case job := <-s.jobs:
			s.run(ctx, job[0], job[1])
		}
	}
}

func (s *Service) run(ctx context.Context, from, to time.Time) {
	started := s.Status().Started
	publish := func(p Progress) {
		p.Started = started
		s.mu.Lock()
		s.last = p
		s.mu.Unlock()
	}
	// Run's last report says the recompute is over; it is, once the range
	// is no longer pending. Until then it is shown as running.
	var final Progress
	set := func(p Progress) {
		if !p.Running {
			final = p
			p.Running = true
		}
		publish(p)
	}
	d := map[signal.Key]state.Range{}
	for _, k := range s.eng.Keys() {
		d[k] = state.Range{From: from.UnixNano(), To: to.UnixNano() - 1}
	}
	if s.pend != nil {
		if err := s.pend.Save(nil, d); err != nil {
			publish(Progress{From: from, To: to, Error: "storing the range as pending: " + err.Error()})
			s.log.Error("recompute failed", "from", from, "to", to, "err", err)
			return
		}
	}
	s.log.Info("recompute started", "from", from, "to", to, "equipment", len(d))
	p, err := Run(ctx, s.eng, s.w, from, to, set)
	if err != nil {
		publish(final)
		s.log.Error("recompute failed; the flusher writes the range at the next start", "from", from, "to", to, "done", p.Done, "total", p.Total, "err", err)
		return
	}
	if s.pend != nil {
		if err := s.pend.Written(d); err != nil {
			s.log.Warn("clearing the recomputed range failed; it is written again at the next start", "err", err)
		}
	}
	publish(final)
	s.log.Info("recompute done", "from", from, "to", to, "periods", p.Total, "points", p.Points, "elapsed", p.Elapsed)
}
