package config

import (
	"path/filepath"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/segment"
)

// Segments configures the monthly segments of machines and operators
// (recency, frequency and volume; the volume cut-offs are the tiers of
// activity.tiers and operators.tiers).
type Segments struct {
	// ActiveDay is the run time that makes a day active.
	ActiveDay time.Duration `yaml:"active_day"`
	// History is how many months before the judged one are looked at
	// (first activity, the mean a decline is judged against).
	History int `yaml:"history"`
	// RecentDays: last active at most this many days before the month's
	// last day scores recency 3.
	RecentDays int `yaml:"recent_days"`
	// GapDays: within this many days scores 2; more is a gap (at risk when
	// run hours also fall).
	GapDays int `yaml:"gap_days"`
	// DormantDays: this many days or more without an active day is dormant.
	DormantDays int `yaml:"dormant_days"`
	// FrequentDays: this many active days in a month scores frequency 3.
	FrequentDays int `yaml:"frequent_days"`
	// RegularDays: this many scores 2 (one active day scores 1).
	RegularDays int `yaml:"regular_days"`
	// Drop: run hours this fraction below the mean of the entity's earlier
	// months (at least two with run time) is a decline (0 to 1).
	Drop float64 `yaml:"drop"`
	// Refresh is how often this month's and last month's segments are
	// written to InfluxDB.
	Refresh time.Duration `yaml:"refresh"`
}

// Actions configures the tracked actions.
type Actions struct {
	// EffectDays is the length, in days, of the windows before an action
	// was opened and after it was done whose figures are compared.
	EffectDays int `yaml:"effect_days"`
}

func defaultSegments() Segments {
	return Segments{ActiveDay: time.Hour, History: 6, RecentDays: 2, GapDays: 7, DormantDays: 30,
		FrequentDays: 16, RegularDays: 8, Drop: 0.25, Refresh: 15 * time.Minute}
}

func (s Segments) validate(add func(string, string, ...any)) {
	if s.ActiveDay <= 0 || s.ActiveDay > 24*time.Hour {
		add("segments.active_day", "want more than 0 and at most 24h (got %s)", s.ActiveDay)
	}
	if s.History < 2 || s.History > 24 {
		add("segments.history", "want 2 to 24 months (got %d)", s.History)
	}
	if s.RecentDays < 0 || s.GapDays < s.RecentDays || s.DormantDays <= s.GapDays {
		add("segments", "want 0 <= recent_days <= gap_days < dormant_days (got %d, %d, %d)", s.RecentDays, s.GapDays, s.DormantDays)
	}
	if s.RegularDays < 1 || s.FrequentDays < s.RegularDays || s.FrequentDays > 31 {
		add("segments", "want 1 <= regular_days <= frequent_days <= 31 (got %d, %d)", s.RegularDays, s.FrequentDays)
	}
	if s.Drop <= 0 || s.Drop >= 1 {
		add("segments.drop", "want a fraction between 0 and 1 (got %v)", s.Drop)
	}
	if s.Refresh < time.Second {
		add("segments.refresh", "must be at least 1s (got %s)", s.Refresh)
	}
}

func (a Actions) validate(add func(string, string, ...any)) {
	if a.EffectDays < 1 || a.EffectDays > 90 {
		add("actions.effect_days", "want 1 to 90 days (got %d)", a.EffectDays)
	}
}

// SegmentRules returns the rules of machines and of operators.
func (c *Config) SegmentRules() (equipment, operators segment.Rules) {
	s := c.Segments
	r := segment.Rules{ActiveDay: s.ActiveDay, History: s.History, RecentDays: s.RecentDays, GapDays: s.GapDays,
		DormantDays: s.DormantDays, FrequentDays: s.FrequentDays, RegularDays: s.RegularDays, Drop: s.Drop}
	equipment, operators = r, r
	equipment.Volume, operators.Volume = c.Tiers(), c.OperatorTiers()
	return equipment, operators
}

// ActionsPath is the action store.
func (c *Config) ActionsPath() string { return filepath.Join(c.DataDir, "actions.db") }
