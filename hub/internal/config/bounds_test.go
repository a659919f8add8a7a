package config

import (
	"strings"
	"testing"
	"time"
)

// The bounds have defaults, bad values are named, and the engine gets the
// registry policy.
func TestBounds(t *testing.T) {
	cfg, err := Decode("hub.yaml", []byte("site: p\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.State.AcceptAge != 400*24*time.Hour || cfg.State.MaxClockSkew != 5*time.Minute ||
		cfg.RegistryPolicy.Unregistered != "limit" || cfg.RegistryPolicy.LimitPerSite != 1000 || cfg.Recompute.MaxRange != 400*24*time.Hour {
		t.Fatalf("defaults: %+v %+v %+v", cfg.State, cfg.RegistryPolicy, cfg.Recompute)
	}
	if o := cfg.EngineOptions(); o.MaxUnregistered != 1000 || o.RejectUnregistered {
		t.Fatalf("engine options: %d %v", o.MaxUnregistered, o.RejectUnregistered)
	}
	for policy, want := range map[string][2]any{"accept": {0, false}, "reject": {0, true}, "limit": {7, false}} {
		cfg, err := Decode("hub.yaml", []byte("site: p\nregistry: {unregistered: "+policy+", limit_per_site: 7}\n"))
		if err != nil {
			t.Fatal(err)
		}
		if o := cfg.EngineOptions(); o.MaxUnregistered != want[0] || o.RejectUnregistered != want[1] {
			t.Errorf("%s: %d %v", policy, o.MaxUnregistered, o.RejectUnregistered)
		}
	}
	_, err = Decode("hub.yaml", []byte(`site: p
state: {accept_age: 240h, max_clock_skew: 48h}
registry: {unregistered: some, limit_per_site: 0}
recompute: {max_range: 1h}
`))
	for _, want := range []string{
		"hub.yaml:2: state.accept_age: must be at least nats.max_age (1080h0m0s)",
		"hub.yaml:2: state.max_clock_skew: must be between 0 and 24h",
		`hub.yaml:3: registry.unregistered: must be accept, reject or limit (got "some")`,
		"hub.yaml:3: registry.limit_per_site: must be between 1 and 1000000",
		"hub.yaml:4: recompute.max_range: must be at least a day",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// A recompute longer than recompute.max_range is refused, naming the limit.
func TestCheckRecompute(t *testing.T) {
	cfg, err := Decode("hub.yaml", []byte("site: p\n"))
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	if err := cfg.CheckRecompute(from, from.AddDate(0, 13, 0)); err != nil {
		t.Fatalf("13 months: %v", err)
	}
	err = cfg.CheckRecompute(time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2040, 1, 1, 0, 0, 0, 0, time.UTC))
	if err == nil || !strings.Contains(err.Error(), "longer than recompute.max_range (400 days)") {
		t.Fatalf("50 years: %v", err)
	}
}
