package config

import (
	"strings"
	"testing"
	"time"
)

func TestRetention(t *testing.T) {
	const day = 24 * time.Hour
	for _, c := range []struct {
		name, yaml, err string
	}{
		{"defaults", "", ""},
		{"for ever", "retention: {state: 0s, events: 0s, dead_letters: 0s}\n", ""},
		{"longer events", "retention: {state: 1000h, events: 20000h}\nnats: {max_bytes: 1GiB}\n", ""},
		{"no stream bound", "nats: {max_bytes: 0}\n", ""},
		{"state too short", "retention: {state: 240h}\n", "hub.yaml:2: retention.state: must be 0 (for ever) or at least 744h (31 days) (got 240h0m0s)"},
		{"state below the lateness", "state: {max_lateness: 2000h}\nretention: {state: 1000h, events: 0s}\n", "retention.state: must be at least state.max_lateness (2000h0m0s)"},
		{"events shorter than state", "retention: {events: 800h}\n", "retention.events: must be at least retention.state"},
		{"events bounded, state not", "retention: {state: 0s}\n", "retention.events: must be at least retention.state"},
		{"negative dead letters", "retention: {dead_letters: -1h}\n", "retention.dead_letters: must not be negative"},
		{"tiny stream", "nats: {max_bytes: 1KiB}\n", "nats.max_bytes: must be 0 (no bound) or at least 1MiB (got 1KiB)"},
		{"bad size", "nats: {max_bytes: lots}\n", `nats.max_bytes: invalid size "lots"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Decode("hub.yaml", []byte("site: s1\n"+c.yaml))
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.yaml == "" && (cfg.Retention != Retention{State: 400 * day, Events: 400 * day, DeadLetters: 30 * day} || cfg.NATS.MaxBytes != 10<<30) {
					t.Fatalf("defaults: %+v, max_bytes %s", cfg.Retention, cfg.NATS.MaxBytes)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err = %v, want it to contain %q", err, c.err)
			}
		})
	}
}
