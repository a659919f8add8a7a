package config

import (
	"path/filepath"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// EngineOptions are the engine options of the configuration: the one
// constructor used by the running hub, its offline commands and the golden
// tests, so that all three compute with the same settings.
func (c *Config) EngineOptions() engine.Options {
	limit, reject := c.MaxUnregistered()
	return engine.Options{
		MaxUnregistered: limit, RejectUnregistered: reject,
		Location: c.Location, Registry: c.Equipment(), Threshold: c.Threshold,
		Timeout: c.State.SignalTimeout, MaxLateness: c.State.MaxLateness, StateCodes: c.StateCodes(), Calendar: c.CalendarOf,
		Kinds: c.Activity.Periods, Tiers: c.Tiers(), IdleRunningAfter: c.Activity.IdleRunningAfter,
		OperatorThreshold: c.Operators.ActiveThreshold, OperatorTiers: c.OperatorTiers(), Attrition: c.AttritionRule(),
	}
}

// Equipment expands the configured equipment registry (a registry entry
// without a site belongs to the hub's site).
func (c *Config) Equipment() []activity.Equipment {
	var out []activity.Equipment
	for _, r := range c.Registry {
		site := r.Site
		if site == "" {
			site = c.Site
		}
		for _, id := range r.IDs {
			out = append(out, activity.Equipment{Key: signal.Key{Site: site, Line: r.Line, Equipment: id}, Class: r.Class, Registered: true,
				IdealCycle: r.IdealCycle, RatedPower: r.RatedPower})
		}
	}
	return out
}

// StatePath is the state store of a hub with one partition.
func (c *Config) StatePath() string { return filepath.Join(c.DataDir, "state.db") }

// PartitionsDir holds the local copies of a partitioned hub's stores.
func (c *Config) PartitionsDir() string { return filepath.Join(c.DataDir, "partitions") }
