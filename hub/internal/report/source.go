package report

import (
	"fmt"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/action"
	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/segment"
)

// EngineSource reads a report from an engine (the hub's own, or one built
// over the state store), as the API computes it.
type EngineSource struct {
	Engine   *engine.Engine
	Location *time.Location
	Site     string
	// ListEvents lists the events whose time overlaps [from, to) (nil: none).
	ListEvents func(from, to time.Time) ([]anomaly.Record, error)
	// SegmentRules assigns the segments (nil: the report has none).
	SegmentRules *segment.Source
	// ActionRules lists the actions and measures their effects (nil: none).
	ActionRules *action.Options
	// Clock reads now, up to which the segments count days (default time.Now).
	Clock func() time.Time
}

var _ Source = EngineSource{}

func (s EngineSource) period(month string) (activity.Period, error) {
	m, err := activity.ParseMonth(month, s.Location)
	if err != nil {
		return m, fmt.Errorf("month %q: want YYYY-MM", month)
	}
	return m, nil
}

// Month implements Source.
func (s EngineSource) Month(month string) (api.MonthJSON, error) {
	m, err := s.period(month)
	if err != nil {
		return api.MonthJSON{}, err
	}
	return api.Month(s.Engine, s.Location, s.Site, m), nil
}

// Operators implements Source.
func (s EngineSource) Operators(month string) ([]api.OperatorJSON, error) {
	m, err := s.period(month)
	if err != nil {
		return nil, err
	}
	return api.Operators(s.Engine, s.Location, m).Operators, nil
}

// Events implements Source.
func (s EngineSource) Events(from, to time.Time) ([]anomaly.Record, error) {
	if s.ListEvents == nil {
		return nil, nil
	}
	return s.ListEvents(from, to)
}
