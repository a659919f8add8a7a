package config

import (
	"strings"
	"testing"
	"time"
)

func TestSegmentsAndActions(t *testing.T) {
	for _, c := range []struct {
		name, yaml, err string
	}{
		{"defaults", "", ""},
		{"set", "segments: {active_day: 30m, history: 12, drop: 0.4}\nactions: {effect_days: 28}\n", ""},
		{"drop", "segments: {drop: 1.5}\n", "hub.yaml:2: segments.drop: want a fraction between 0 and 1 (got 1.5)"},
		{"recency order", "segments: {gap_days: 40}\n", "segments: want 0 <= recent_days <= gap_days < dormant_days (got 2, 40, 30)"},
		{"frequency order", "segments: {regular_days: 20}\n", "segments: want 1 <= regular_days <= frequent_days <= 31 (got 20, 16)"},
		{"history", "segments: {history: 1}\n", "segments.history: want 2 to 24 months (got 1)"},
		{"effect days", "actions: {effect_days: 0}\n", "actions.effect_days: want 1 to 90 days (got 0)"},
		{"unknown key", "actions: {window: 3}\n", "window"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Decode("hub.yaml", []byte("site: s1\n"+c.yaml))
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				eq, op := cfg.SegmentRules()
				if c.yaml == "" && (eq.ActiveDay != time.Hour || eq.History != 6 || eq.Drop != 0.25 || eq.Volume.High != 400*time.Hour ||
					op.Volume.High != 120*time.Hour || cfg.Actions.EffectDays != 14) {
					t.Fatalf("defaults: %+v %+v %+v", eq, op, cfg.Actions)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err = %v, want it to contain %q", err, c.err)
			}
		})
	}
}
