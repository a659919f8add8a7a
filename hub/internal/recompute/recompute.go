// Package recompute rewrites the figures of a range of time: every period
// of every configured kind that overlaps it, for all equipment, their lines
// and the site, and the operator months, computed from the timelines as they
// are now (with the configuration as it is now: thresholds, tiers,
// calendars) and written to InfluxDB. Points carry their period start as
// timestamp and are identified by their tags, so a recompute replaces
// points and is safe to repeat or to interrupt.
//
// Run does one recompute with a progress callback (the `hub recompute`
// command, offline); Service runs them one at a time inside the hub, for the
// HTTP API.
package recompute

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
)

// Writer writes figures (influx.Writer).
type Writer interface {
	Write(ctx context.Context, res engine.Result) error
}

// Clearer deletes the figure points a result replaces (influx.Writer): a
// recompute clears its whole range once, before it writes, rather than
// each batch's.
type Clearer interface {
	DeleteFigures(ctx context.Context, res engine.Result) error
}

// BatchPoints is about how many points are written per request.
const BatchPoints = 5000

// writers is how many write requests are in flight at once.
const writers = 2

// Progress is how far a recompute got. Periods are counted once their
// points are written.
type Progress struct {
	From    time.Time     `json:"from"`
	To      time.Time     `json:"to"`
	Running bool          `json:"running"`
	Done    int           `json:"done"`  // periods written
	Total   int           `json:"total"` // periods to write
	Points  int           `json:"points"`
	Started time.Time     `json:"started"`
	Elapsed time.Duration `json:"-"`
	Error   string        `json:"error,omitempty"`
}

// Fraction is the share of periods written (1 when there are none).
func (p Progress) Fraction() float64 {
	if p.Total == 0 {
		return 1
	}
	return float64(p.Done) / float64(p.Total)
}

// ETA estimates the time left from the pace so far; ok is false before the
// first period is written.
func (p Progress) ETA() (time.Duration, bool) {
	if p.Done == 0 || p.Total == 0 {
		return 0, false
	}
	left := time.Duration(float64(p.Elapsed) * float64(p.Total-p.Done) / float64(p.Done))
	return left.Round(time.Second), true
}

// ParseRange parses an inclusive range of months (YYYY-MM) or days
// (YYYY-MM-DD) in loc into [from, to): -to 2026-10 ends at the start of
// November, -to 2026-10-05 at the start of October 6.
func ParseRange(from, to string, loc *time.Location) (time.Time, time.Time, error) {
	a, _, err := parseDate(from, loc)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("from: %w", err)
	}
	b, next, err := parseDate(to, loc)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("to: %w", err)
	}
	end := next(b)
	if !end.After(a) {
		return time.Time{}, time.Time{}, fmt.Errorf("to (%s) is before from (%s)", to, from)
	}
	return a, end, nil
}

func parseDate(s string, loc *time.Location) (time.Time, func(time.Time) time.Time, error) {
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t, func(t time.Time) time.Time { return activity.DayOf(t, loc).End }, nil
	}
	if t, err := time.ParseInLocation("2006-01", s, loc); err == nil {
		return t, func(t time.Time) time.Time { return activity.MonthOf(t, loc).End }, nil
	}
	return time.Time{}, nil, fmt.Errorf("%q is not YYYY-MM or YYYY-MM-DD", s)
}

// Run recomputes and writes every period of the engine's kinds overlapping
// [from, to). Figures are computed on one goroutine and written by two
// others, at about BatchPoints points per request; report (may be nil) is
// called after every write (one call at a time) and at the end. It returns
// the final progress.
func Run(ctx context.Context, eng *engine.Engine, w Writer, from, to time.Time, report func(Progress)) (Progress, error) {
	periods := eng.Periods(from, to)
	start := time.Now()
	pr := Progress{From: from, To: to, Running: true, Total: len(periods), Started: start}
	if report == nil {
		report = func(Progress) {}
	}
	report(pr)
	clearer, clears := w.(Clearer)
	if clears {
		if err := clearer.DeleteFigures(ctx, outline(eng, periods)); err != nil {
			pr.Running, pr.Error = false, err.Error()
			report(pr)
			return pr, err
		}
	}
	type batch struct {
		res     engine.Result
		periods int
		points  int
	}
	ch := make(chan batch, 2)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(ch)
		var b batch
		send := func() error {
			select {
			case ch <- b:
				b = batch{res: engine.Result{Cleared: clears}}
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		b.res.Cleared = clears
		for _, p := range periods {
			r := eng.PeriodFigures(p)
			b.res.Equipment = append(b.res.Equipment, r.Equipment...)
			b.res.Rollups = append(b.res.Rollups, r.Rollups...)
			b.res.Operators = append(b.res.Operators, r.Operators...)
			b.periods++
			b.points += len(r.Equipment) + len(r.Rollups) + len(r.Operators)
			if b.points >= BatchPoints {
				if err := send(); err != nil {
					return err
				}
			}
		}
		if b.periods > 0 {
			return send()
		}
		return nil
	})
	// Two writers: one turns its batch into line protocol while InfluxDB
	// takes the other's.
	var mu sync.Mutex
	for range writers {
		g.Go(func() error {
			for b := range ch {
				if err := w.Write(gctx, b.res); err != nil {
					return err
				}
				mu.Lock()
				pr.Done += b.periods
				pr.Points += b.points
				pr.Elapsed = time.Since(start)
				report(pr)
				mu.Unlock()
			}
			return nil
		})
	}
	err := g.Wait()
	pr.Running = false
	pr.Elapsed = time.Since(start)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		pr.Error = err.Error()
	}
	report(pr)
	return pr, err
}

// outline is a result with the first and the last period start of each
// kind for every equipment, line and the site the engine knows, and for
// their operators: deleting the figure points it replaces (influx
// restate.go) deletes every point the recompute of periods writes again,
// and the points of periods (shifts) a changed calendar no longer has.
func outline(eng *engine.Engine, periods []activity.Period) engine.Result {
	type span struct{ first, last activity.Period }
	kinds := map[string]*span{}
	var order []string
	for _, p := range periods {
		s := kinds[p.Kind]
		if s == nil {
			s = &span{first: p, last: p}
			kinds[p.Kind] = s
			order = append(order, p.Kind)
		}
		if p.Start.Before(s.first.Start) {
			s.first = p
		}
		if p.Start.After(s.last.Start) {
			s.last = p
		}
	}
	var res engine.Result
	sites := map[string]bool{}
	lines := map[[2]string]bool{}
	for _, k := range eng.Keys() {
		sites[k.Site] = true
		lines[[2]string{k.Site, k.Line}] = true
		for _, kind := range order {
			for _, p := range []activity.Period{kinds[kind].first, kinds[kind].last} {
				res.Equipment = append(res.Equipment, activity.Figures{Equipment: activity.Equipment{Key: k}, Period: p})
			}
		}
	}
	for _, kind := range order {
		for _, p := range []activity.Period{kinds[kind].first, kinds[kind].last} {
			for l := range lines {
				res.Rollups = append(res.Rollups, activity.Rollup{Site: l[0], Line: l[1], Period: p})
			}
			for s := range sites {
				res.Rollups = append(res.Rollups, activity.Rollup{Site: s, Period: p})
				if kind == activity.Month {
					res.Operators = append(res.Operators, activity.OperatorFigures{Site: s, Period: p})
				}
			}
		}
	}
	return res
}

// ErrBusy is returned by Service.Start while a recompute runs.
var ErrBusy = errors.New("a recompute is already running")
