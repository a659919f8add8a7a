package config

import (
	"fmt"
	"time"
)

// Detectors configures the anomaly detectors. Durations and factors apply
// plant-wide; Lines and Classes override them per line or equipment class
// (a line setting wins over a class setting).
type Detectors struct {
	DetectorSettings `yaml:",inline"`
	// Lines override the settings for some lines (by line name); zero
	// values inherit.
	Lines map[string]DetectorSettings `yaml:"lines"`
	// Classes override the settings for some equipment classes; zero
	// values inherit.
	Classes map[string]DetectorSettings `yaml:"classes"`
}

// DetectorSettings are the thresholds of the detectors; zero values inherit.
type DetectorSettings struct {
	// DowntimeMin: a stop (down, or idle in a shift) at least this long is
	// unplanned downtime.
	DowntimeMin time.Duration `yaml:"downtime_min"`
	// OutOfShiftMin: running outside every shift at least this long.
	OutOfShiftMin time.Duration `yaml:"out_of_shift_min"`
	// MicroStopMax: stops shorter than this are micro stops.
	MicroStopMax time.Duration `yaml:"micro_stop_max"`
	// MicroStopBurst: this many micro stops within micro_stop_window make a burst.
	MicroStopBurst int `yaml:"micro_stop_burst"`
	// MicroStopWindow is the window a micro stop burst is counted in.
	MicroStopWindow time.Duration `yaml:"micro_stop_window"`
	// ActivityDrop: an hour's run time below (1 - activity_drop) times the
	// median of the same hour of the week over the last activity_weeks
	// weeks is an activity drop (0 to 1).
	ActivityDrop float64 `yaml:"activity_drop"`
	// ActivityWeeks is the number of weeks the activity drop's median is taken over.
	ActivityWeeks int `yaml:"activity_weeks"`
	// FlatlineMin: a gauge unchanged while running for at least this long.
	FlatlineMin time.Duration `yaml:"flatline_min"`
	// GaugeThreshold: gauge anomaly score that opens an event (0..1).
	GaugeThreshold float64 `yaml:"gauge_threshold"`
	// IdleRunningMin: running this long without a counted part.
	IdleRunningMin time.Duration `yaml:"idle_running_min"`
	// RiskThreshold: failure-risk score (the root of the summed squared
	// deviations of gauges, cycle time and micro-stops from the
	// equipment's normal) that counts as elevated.
	RiskThreshold float64 `yaml:"risk_threshold"`
	// RiskHold: an elevated failure-risk score for this long (in hours with
	// running time) opens a failure_risk event.
	RiskHold time.Duration `yaml:"risk_hold"`
}

// DefaultDetectors are the built-in thresholds.
func DefaultDetectors() DetectorSettings {
	return DetectorSettings{
		DowntimeMin: 5 * time.Minute, OutOfShiftMin: 15 * time.Minute,
		MicroStopMax: 2 * time.Minute, MicroStopBurst: 5, MicroStopWindow: 30 * time.Minute,
		ActivityDrop: 0.5, ActivityWeeks: 4, FlatlineMin: 30 * time.Minute, GaugeThreshold: 0.5,
		IdleRunningMin: 10 * time.Minute, RiskThreshold: 3, RiskHold: 2 * time.Hour,
	}
}

// merge returns s overridden by the settings o gives (its non-zero values).
func (s DetectorSettings) merge(o DetectorSettings) DetectorSettings {
	set(&s.DowntimeMin, o.DowntimeMin)
	set(&s.OutOfShiftMin, o.OutOfShiftMin)
	set(&s.MicroStopMax, o.MicroStopMax)
	set(&s.MicroStopBurst, o.MicroStopBurst)
	set(&s.MicroStopWindow, o.MicroStopWindow)
	set(&s.ActivityDrop, o.ActivityDrop)
	set(&s.ActivityWeeks, o.ActivityWeeks)
	set(&s.FlatlineMin, o.FlatlineMin)
	set(&s.GaugeThreshold, o.GaugeThreshold)
	set(&s.IdleRunningMin, o.IdleRunningMin)
	set(&s.RiskThreshold, o.RiskThreshold)
	set(&s.RiskHold, o.RiskHold)
	return s
}

// set overwrites *dst with v unless v is the zero value (not given).
func set[T comparable](dst *T, v T) {
	var zero T
	if v != zero {
		*dst = v
	}
}

// For returns the settings of a line and class.
func (d Detectors) For(line, class string) DetectorSettings {
	s := DefaultDetectors().merge(d.DetectorSettings)
	if c, ok := d.Classes[class]; ok {
		s = s.merge(c)
	}
	if l, ok := d.Lines[line]; ok {
		s = s.merge(l)
	}
	return s
}

func (s DetectorSettings) validate(path string, add func(string, string, ...any)) {
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"downtime_min", s.DowntimeMin}, {"out_of_shift_min", s.OutOfShiftMin}, {"micro_stop_max", s.MicroStopMax},
		{"micro_stop_window", s.MicroStopWindow}, {"flatline_min", s.FlatlineMin}, {"idle_running_min", s.IdleRunningMin},
		{"risk_hold", s.RiskHold}} {
		if d.v < 0 {
			add(path+d.key, "must not be negative")
		}
	}
	if s.MicroStopBurst < 0 {
		add(path+"micro_stop_burst", "must not be negative")
	}
	if s.ActivityDrop < 0 || s.ActivityDrop >= 1 {
		add(path+"activity_drop", "must be in [0, 1), got %v", s.ActivityDrop)
	}
	if s.ActivityWeeks < 0 {
		add(path+"activity_weeks", "must not be negative")
	}
	if s.RiskThreshold < 0 {
		add(path+"risk_threshold", "must not be negative, got %v", s.RiskThreshold)
	}
	if s.GaugeThreshold < 0 || s.GaugeThreshold > 1 {
		add(path+"gauge_threshold", "must be in [0, 1], got %v", s.GaugeThreshold)
	}
}

// Validate checks every setting, naming the key under prefix (e.g. "events.detectors.").
func (d Detectors) Validate(prefix string, add func(string, string, ...any)) {
	d.DetectorSettings.validate(prefix, add)
	for l, s := range d.Lines {
		s.validate(fmt.Sprintf("%slines.%s.", prefix, l), add)
	}
	for c, s := range d.Classes {
		s.validate(fmt.Sprintf("%sclasses.%s.", prefix, c), add)
	}
}
