package config

import (
	"fmt"
	"time"
)

// Unregistered policies: what the hub does with signals of equipment that
// is not in the registry.
const (
	UnregisteredAccept = "accept" // take all of it
	UnregisteredReject = "reject" // take none of it
	UnregisteredLimit  = "limit"  // take up to registry.limit_per_site equipment per site
)

// RegistryPolicy says what the hub does with equipment that reports without
// being in the registry (`equipment`).
type RegistryPolicy struct {
	// Unregistered is accept, reject or limit: signals of equipment missing
	// from the registry are all taken, all set aside, or taken for up to
	// limit_per_site such equipment per site (equipment already in the state
	// store is always taken). Counted either way.
	Unregistered string `yaml:"unregistered"`
	// LimitPerSite is how many equipment missing from the registry a site may
	// hold under the limit policy.
	LimitPerSite int `yaml:"limit_per_site"`
}

// Recompute bounds the recomputes asked of the hub.
type Recompute struct {
	// MaxRange is the longest range a recompute may cover (`hub recompute`
	// and POST /api/v1/recompute); a longer one is refused.
	MaxRange time.Duration `yaml:"max_range"`
}

// Defaults of the bounds; the reasons are in docs/hub.md#bounds.
const (
	defaultAcceptAge    = 400 * 24 * time.Hour
	defaultMaxClockSkew = 5 * time.Minute
	defaultLimitPerSite = 1000
	defaultMaxRange     = 400 * 24 * time.Hour
)

func (r RegistryPolicy) validate(add func(string, string, ...any)) {
	switch r.Unregistered {
	case UnregisteredAccept, UnregisteredReject, UnregisteredLimit:
	default:
		add("registry.unregistered", "must be accept, reject or limit (got %q)", r.Unregistered)
	}
	if r.LimitPerSite < 1 || r.LimitPerSite > 1000000 {
		add("registry.limit_per_site", "must be between 1 and 1000000 (got %d)", r.LimitPerSite)
	}
}

func (r Recompute) validate(add func(string, string, ...any)) {
	if r.MaxRange < 24*time.Hour {
		add("recompute.max_range", "must be at least a day, 24h (got %s)", r.MaxRange)
	}
}

// CheckRecompute refuses a recompute of [from, to) longer than
// recompute.max_range, naming the limit.
func (c *Config) CheckRecompute(from, to time.Time) error {
	if to.Sub(from) > c.Recompute.MaxRange {
		return fmt.Errorf("the range %s to %s is longer than recompute.max_range (%s)",
			from.Format(time.DateOnly), to.Add(-time.Nanosecond).Format(time.DateOnly), days(c.Recompute.MaxRange))
	}
	return nil
}

// MaxUnregistered is the registry policy as the engine takes it: how many
// equipment missing from the registry a site may hold (0: any) and whether
// none may.
func (c *Config) MaxUnregistered() (limit int, reject bool) {
	switch c.RegistryPolicy.Unregistered {
	case UnregisteredReject:
		return 0, true
	case UnregisteredLimit:
		return c.RegistryPolicy.LimitPerSite, false
	}
	return 0, false
}

// days writes d in days and hours: "400 days", "1 day 12h".
func days(d time.Duration) string {
	n, rest := int(d/(24*time.Hour)), d%(24*time.Hour)
	s := fmt.Sprintf("%d days", n)
	if n == 1 {
		s = "1 day"
	}
	if rest != 0 {
		s += " " + rest.String()
	}
	return s
}
