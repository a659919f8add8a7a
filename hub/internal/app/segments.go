package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/action"
	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/segment"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// segmentSink writes a month's segments and the actions (influx.Writer).
type segmentSink interface {
	WriteSegments(ctx context.Context, monthStart time.Time, as []segment.Assignment) error
	WriteActions(ctx context.Context, as []action.JSON) error
}

// segmentSource is the segments of an engine as the configuration rules them.
func segmentSource(cfg *config.Config, eng *engine.Engine) segment.Source {
	eq, op := cfg.SegmentRules()
	return segment.Source{Engine: eng, Location: cfg.Location, Equipment: eq, Operators: op, Cache: segment.NewCache(cfg.Segments.Refresh),
		// A machine imported with an in-service date is new from it (master data).
		InService: func(k signal.Key) time.Time { return eng.Equipment(k).InService.From }}
}

// actionWriteTimeout bounds the write of an action just opened or changed.
const actionWriteTimeout = 2 * time.Second

// noDataRetry is how soon writeSegments looks again while the engine holds
// no data yet.
const noDataRetry = 10 * time.Second

// writeSegments writes last month's and this month's segments now and then
// every interval until ctx ends, while held() (the partition's lease). A
// failed write is logged and tried again at the next interval: the points
// are recomputed from the timelines each time, so nothing is lost. The
// reports it computes fill src's cache, which the pages then read. With
// acts, the actions on this engine's machines and lines (and those on
// operators) are written too, with their effects as of now.
func writeSegments(ctx context.Context, w segmentSink, src segment.Source, acts *action.Options, every time.Duration, clock func() time.Time,
	held func() bool, log *slog.Logger) error {
	for {
		wait := every
		if held() {
			if _, _, ok := src.Engine.Span(); !ok {
				wait = min(every, noDataRetry) // nothing to score yet: look again soon
			} else {
				now := clock()
				this := activity.MonthOf(now, src.Location)
				for _, m := range []activity.Period{activity.MonthOf(this.Start.Add(-time.Hour), src.Location), this} {
					if err := w.WriteSegments(ctx, m.Start, src.Report(m, now).Assignments); err != nil && ctx.Err() == nil {
						log.Warn("writing segments failed; retrying at the next refresh", "month", m.Name(), "err", err)
					}
				}
				if err := writeActions(ctx, w, acts); err != nil && ctx.Err() == nil {
					log.Warn("writing actions failed; retrying at the next refresh", "err", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// writeActions writes the actions whose subject this engine measures, or
// that have no figures (an operator's segment entry).
func writeActions(ctx context.Context, w segmentSink, acts *action.Options) error {
	if acts == nil || acts.Store == nil {
		return nil
	}
	all, err := acts.Store.List(action.Filter{}, acts.Location)
	if err != nil {
		return err
	}
	var mine []action.Action
	for _, a := range all {
		if !a.Subject.Measured() || acts.Known == nil || acts.Known(a.Subject) {
			mine = append(mine, a)
		}
	}
	out := make([]action.JSON, 0, len(mine))
	for i, e := range acts.Effects(mine) {
		out = append(out, action.JSON{Action: mine[i], Effect: e})
	}
	return w.WriteActions(ctx, out)
}

// actionOptions are the action API's options over a part's engine.
func (h *hub) actionOptions(eng *engine.Engine) action.Options {
	return action.Options{Store: h.actions, Location: h.cfg.Location, Site: h.cfg.Site, WindowDays: h.cfg.Actions.EffectDays,
		Clock: h.clock, Day: api.ActionDay(eng), Events: eventsOf(h.ev), Known: api.ActionKnown(eng),
		Event: func(id string) (action.Subject, bool) {
			rec, err := h.ev.Get(id)
			if err != nil {
				return action.Subject{}, false
			}
			return eventSubject(rec), true
		}}
}

func eventSubject(rec anomaly.Record) action.Subject {
	return action.Subject{Site: rec.Site, Line: rec.Line, Equipment: rec.Equipment}
}

// openActions opens the action store (data_dir/actions.db).
func openActions(cfg *config.Config, log *slog.Logger) (*action.Store, error) {
	if err := compactFile(cfg.ActionsPath(), log); err != nil {
		return nil, err
	}
	st, err := action.OpenStore(cfg.ActionsPath())
	if err != nil {
		return nil, fmt.Errorf("action store: %w", err)
	}
	return st, nil
}
