// Package config is the hub's configuration: where signals come from (an
// embedded NATS server with JetStream, or an external one), where results go
// (InfluxDB), the plant time zone, the equipment registry and the activity
// thresholds. Load fails on unknown keys and names every bad key with its line.
package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	pconfig "github.com/floorpulse/floorpulse/pkg/config"
	"github.com/floorpulse/floorpulse/pkg/logging"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Config is the whole hub configuration.
type Config struct {
	// Site is the plant's site name (required), as the agents send it: no
	// spaces, dots, '*' or '>'.
	Site string `yaml:"site"`
	// Timezone is the plant's IANA time zone (e.g. Europe/Berlin): days,
	// shifts and months are cut in it.
	Timezone string `yaml:"timezone"`
	// DataDir holds the state store (state.db) and the embedded server's
	// JetStream files.
	DataDir string `yaml:"data_dir"`
	// HTTP is the HTTP server of the dashboard, the JSON API, /healthz,
	// /readyz and /metrics: its listen address (host:port; "" disables it)
	// or a section with TLS, users, tokens and timeouts.
	HTTP HTTP `yaml:"http"`
	// LogLevel is debug, info, warn or error; the -log-level flag of `hub
	// run` overrides it.
	LogLevel string `yaml:"log_level"`
	// NATS says where signals are consumed from.
	NATS NATS `yaml:"nats"`
	// Influx says where results are written.
	Influx Influx `yaml:"influx"`
	// Activity holds the thresholds of the monthly equipment figures.
	Activity Activity `yaml:"activity"`
	// State configures the state engine.
	State State `yaml:"state"`
	// Calendar is the plant's production calendar (no shifts: around the clock).
	Calendar Calendar `yaml:"calendar"`
	// LineCalendars replace the plant calendar for some lines (by line name).
	LineCalendars map[string]Calendar `yaml:"line_calendars"`
	// Operators configures the operator figures.
	Operators Operators `yaml:"operators"`
	// Events configures anomaly events: detectors, the events stream,
	// webhooks, the alert roster and escalation.
	Events Events `yaml:"events"`
	// Registry is the equipment registry: the equipment expected, by line
	// and class.
	Registry []Registered   `yaml:"equipment"`
	Location *time.Location `yaml:"-"`
	// RegistryPolicy says what the hub does with equipment missing from the registry.
	RegistryPolicy RegistryPolicy `yaml:"registry"`
	// Recompute bounds the recomputes asked of the hub.
	Recompute Recompute `yaml:"recompute"`

	// Partitions spread the work over several hubs (count 1: one hub does all).
	Partitions Partitions `yaml:"partitions"`
	// Retention bounds how long the state and event stores keep their data.
	Retention Retention `yaml:"retention"`
	// Segments configures the monthly segments of machines and operators.
	Segments Segments `yaml:"segments"`
	// Actions configures the tracked actions and their effects.
	Actions Actions `yaml:"actions"`
	// Runtime sets the Go runtime: garbage collection and a memory limit.
	Runtime Runtime `yaml:"runtime"`

	stateCodes    map[string]state.State
	plantCalendar *calendar.Calendar
	lineCalendars map[string]*calendar.Calendar
}

// Partitions say how several hubs share the work: equipment is partitioned
// by site over Count partitions of the signals stream, each consumed by the
// one hub holding its lease.
type Partitions struct {
	// Count is the number of partitions; 1 (the default) is a single hub
	// consuming the whole stream with its own state store, as without partitions.
	// It is fixed for the life of the stream: every hub uses the same count.
	Count int `yaml:"count"`
	// LeaseTTL is how long a dead hub's partitions wait before another hub
	// takes them over; leases are renewed every LeaseTTL/3.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// HubID names this hub in the lease bucket (default: host name and process id).
	HubID string `yaml:"hub_id"`
	// SnapshotInterval is how often a partition's state is uploaded for a
	// hub that takes it over (also at every hand-over).
	SnapshotInterval time.Duration `yaml:"snapshot_interval"`
}

const maxPartitions = 1024

func (p Partitions) validate(add func(path, format string, args ...any)) {
	if p.Count < 1 || p.Count > maxPartitions {
		add("partitions.count", "must be between 1 and %d (got %d)", maxPartitions, p.Count)
	}
	if p.LeaseTTL < time.Second || p.LeaseTTL > 10*time.Minute {
		add("partitions.lease_ttl", "must be between 1s and 10m (got %s)", p.LeaseTTL)
	}
	if p.HubID != "" && !validHubID(p.HubID) {
		add("partitions.hub_id", "letters, digits, '-' and '_' only, at most 64 (got %q)", p.HubID)
	}
	if p.SnapshotInterval < time.Second {
		add("partitions.snapshot_interval", "must be at least 1s (got %s)", p.SnapshotInterval)
	}
}

func validHubID(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// Influx says where results are written.
type Influx struct {
	// URL of InfluxDB (http or https).
	URL string `yaml:"url"`
	// Token is an InfluxDB 2.x API token, or "user:password" for 1.8. Also {file: PATH} or {env: NAME}.
	Token pconfig.Secret `yaml:"token"`
	// Org is the 2.x organisation (ignored by 1.8).
	Org string `yaml:"org"`
	// Bucket is the 2.x bucket, or "database/retention-policy" for 1.8.
	Bucket string `yaml:"bucket"`
	// CreateDatabase, for InfluxDB 1.8, runs CREATE DATABASE for the bucket's database at start.
	CreateDatabase bool `yaml:"create_database"`
	// Timeout of each write or query.
	Timeout time.Duration `yaml:"timeout"`
}

// Activity holds the thresholds of the monthly figures.
type Activity struct {
	// ActiveThreshold is the run time that makes a month active (default 80h).
	ActiveThreshold time.Duration `yaml:"active_threshold"`
	// ClassThresholds override it per equipment class.
	ClassThresholds map[string]time.Duration `yaml:"class_thresholds"`
	// Periods are the period kinds figures are written for.
	Periods []string `yaml:"periods"`
	// Tiers are the monthly run-hour cut-offs of the equipment tiers.
	Tiers TierCuts `yaml:"tiers"`
	// FlushInterval is how often stale figures are recomputed and written.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// IdleRunningAfter: running this long without a count increase is idle running.
	IdleRunningAfter time.Duration `yaml:"idle_running_after"`
}

// Registered is one entry of the equipment registry: a line's equipment ids of one class.
type Registered struct {
	// Site of the equipment; default the top-level site.
	Site string `yaml:"site"`
	// Line of the equipment (required).
	Line string `yaml:"line"`
	// IDs are the equipment ids on the line; at least one.
	IDs []string `yaml:"ids"`
	// Class is the equipment class (e.g. cnc), for class thresholds and
	// detector settings.
	Class string `yaml:"class"`
	// IdealCycle is the ideal cycle time per part (e.g. 45s) of these ids,
	// for performance and OEE; without it they have neither.
	IdealCycle time.Duration `yaml:"ideal_cycle"`
	// RatedPower is the rated electrical power of these ids in kW
	// (informational, written beside the energy figures).
	RatedPower float64 `yaml:"rated_power"`
}

// SetToDefault fills defaults before the file is decoded.
func (c *Config) SetToDefault() {
	*c = Config{
		Timezone: "UTC",
		DataDir:  "var/hub",
		HTTP:     defaultHTTP(),
		LogLevel: "info",
		NATS: NATS{
			Listen:          "127.0.0.1:4222",
			Stream:          "FLOORPULSE_SIGNALS",
			SubjectPrefix:   signal.SubjectPrefix,
			Consumer:        "hub",
			DuplicateWindow: 2 * time.Minute,
			MaxAge:          45 * 24 * time.Hour,
			MaxBytes:        10 << 30,
			Batch:           1000,
			Auth:            AuthNKey,
		},
		Influx: Influx{
			URL:     "http://127.0.0.1:8086",
			Bucket:  "floorpulse/autogen",
			Timeout: 30 * time.Second,
		},
		Activity: Activity{ActiveThreshold: 80 * time.Hour, Periods: append([]string(nil), activity.Kinds...), FlushInterval: time.Second, IdleRunningAfter: 10 * time.Minute,
			Tiers: TierCuts{High: 400 * time.Hour, Medium: 200 * time.Hour, Low: 80 * time.Hour}},
		State:  State{SignalTimeout: 30 * time.Minute, AcceptAge: defaultAcceptAge, MaxClockSkew: defaultMaxClockSkew},
		Events: Events{Detectors: Detectors{DetectorSettings: DefaultDetectors()}},
		Operators: Operators{ActiveThreshold: 20 * time.Hour,
			Tiers:     TierCuts{High: 120 * time.Hour, Medium: 60 * time.Hour, Low: 20 * time.Hour},
			Attrition: Attrition{Months: 3, Drop: 0.3, History: 6}},
		Partitions:     Partitions{Count: 1, LeaseTTL: 10 * time.Second, SnapshotInterval: 30 * time.Second},
		Retention:      Retention{State: 400 * 24 * time.Hour, Events: 400 * 24 * time.Hour, DeadLetters: 30 * 24 * time.Hour},
		RegistryPolicy: RegistryPolicy{Unregistered: UnregisteredLimit, LimitPerSite: defaultLimitPerSite},
		Recompute:      Recompute{MaxRange: defaultMaxRange},
		Segments:       defaultSegments(),
		Actions:        Actions{EffectDays: 14},
		Runtime:        Runtime{GCPercent: 200},
	}
}

// problems collects the problems of a configuration, each naming its key.
type problems []error

// add records a problem with the value at path.
func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, pconfig.Errorf(path, format, args...))
}

// Validate checks every key and returns all problems at once. It also
// resolves the time zone, the calendars and the state codes, and fills the
// defaults of the events section.
func (c *Config) Validate() error {
	var errs problems
	add := errs.add
	c.validateTop(add)
	c.NATS.validate(add)
	c.Influx.validate(add)
	c.Activity.validate(add)
	c.validateState(add)
	c.validateEvents(add)
	c.buildCalendars(add)
	c.Operators.validate(add)
	c.Partitions.validate(add)
	c.validateRegistry(add)
	c.validateRetention(add)
	c.RegistryPolicy.validate(add)
	c.Recompute.validate(add)
	c.Segments.validate(add)
	c.Actions.validate(add)
	c.Runtime.validate(add)
	return errors.Join(errs...)
}

// validateTop checks the top-level keys and resolves the time zone.
func (c *Config) validateTop(add func(string, string, ...any)) {
	if !signal.ValidToken(c.Site) {
		add("site", "required, a name without spaces, dots, '*' or '>' (got %q)", c.Site)
	}
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		add("timezone", "unknown IANA time zone %q", c.Timezone)
	}
	c.Location = loc
	if c.DataDir == "" {
		add("data_dir", "required")
	}
	c.HTTP.validate(add)
	if _, err := logging.ParseLevel(c.LogLevel); err != nil {
		add("log_level", "%v", err)
	}
}

func (i Influx) validate(add func(string, string, ...any)) {
	if u, err := url.Parse(i.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add("influx.url", "not an http(s) URL (got %q)", i.URL)
	}
	if i.Bucket == "" {
		add("influx.bucket", "required (for InfluxDB 1.8: database/retention-policy)")
	}
	if i.CreateDatabase && strings.Count(i.Bucket, "/") != 1 {
		add("influx.create_database", "needs a bucket of the form database/retention-policy")
	}
	if i.Timeout <= 0 {
		add("influx.timeout", "must be positive")
	}
}

func (a Activity) validate(add func(string, string, ...any)) {
	if a.ActiveThreshold <= 0 {
		add("activity.active_threshold", "must be positive")
	}
	for class, d := range a.ClassThresholds {
		if d <= 0 {
			add("activity.class_thresholds."+class, "must be positive")
		}
	}
	seenKind := map[string]bool{}
	for i, k := range a.Periods {
		switch k {
		case activity.Hour, activity.Shift, activity.Day, activity.Month:
		default:
			add(fmt.Sprintf("activity.periods[%d]", i), "unknown period %q (want hour, shift, day or month)", k)
		}
		if seenKind[k] {
			add(fmt.Sprintf("activity.periods[%d]", i), "%q listed twice", k)
		}
		seenKind[k] = true
	}
	if !seenKind[activity.Month] {
		add("activity.periods", "must include month (active rates are monthly)")
	}
	a.Tiers.validate("activity.tiers", add)
	if a.IdleRunningAfter < 0 {
		add("activity.idle_running_after", "must not be negative")
	}
	if a.FlushInterval < 10*time.Millisecond {
		add("activity.flush_interval", "must be at least 10ms")
	}
}

func (o Operators) validate(add func(string, string, ...any)) {
	if o.ActiveThreshold <= 0 {
		add("operators.active_threshold", "must be positive")
	}
	o.Tiers.validate("operators.tiers", add)
	if a := o.Attrition; a.Months < 1 || a.History < 2 || a.Drop <= 0 || a.Drop >= 1 {
		add("operators.attrition", "want months >= 1, history >= 2 and 0 < drop < 1 (got %d, %d, %v)", a.Months, a.History, a.Drop)
	}
}

// validateRegistry checks the equipment registry: valid names, no
// equipment registered twice.
func (c *Config) validateRegistry(add func(string, string, ...any)) {
	seen := map[signal.Key]string{}
	for i, r := range c.Registry {
		p := fmt.Sprintf("equipment[%d]", i)
		site := r.Site
		if site == "" {
			site = c.Site
		}
		if !signal.ValidToken(site) {
			add(p+".site", "invalid site %q", site)
		}
		if !signal.ValidToken(r.Line) {
			add(p+".line", "required, a name without spaces, dots, '*' or '>' (got %q)", r.Line)
		}
		if len(r.IDs) == 0 {
			add(p+".ids", "list at least one equipment id")
		}
		if r.IdealCycle < 0 {
			add(p+".ideal_cycle", "must not be negative (got %s)", r.IdealCycle)
		}
		if r.RatedPower < 0 || math.IsNaN(r.RatedPower) || math.IsInf(r.RatedPower, 0) {
			add(p+".rated_power", "must be a number of kW, not negative (got %v)", r.RatedPower)
		}
		for j, id := range r.IDs {
			ip := fmt.Sprintf("%s.ids[%d]", p, j)
			if !signal.ValidToken(id) {
				add(ip, "invalid equipment id %q", id)
				continue
			}
			k := signal.Key{Site: site, Line: r.Line, Equipment: id}
			if prev, dup := seen[k]; dup {
				add(ip, "%s registered twice (also at %s)", k, prev)
			}
			seen[k] = ip
		}
	}
}

// Threshold returns the active-month threshold of a class.
func (c *Config) Threshold(class string) time.Duration {
	if d, ok := c.Activity.ClassThresholds[class]; ok {
		return d
	}
	return c.Activity.ActiveThreshold
}

// Load reads and validates a hub configuration file.
func Load(path string) (*Config, error) {
	var c Config
	if err := pconfig.Load(path, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// Decode reads and validates a hub configuration from memory.
func Decode(name string, data []byte) (*Config, error) {
	var c Config
	if err := pconfig.Decode(name, data, &c); err != nil {
		return nil, err
	}
	return &c, nil
}
