// Package config is the hub's configuration: where signals come from (an
// embedded NATS server with JetStream, or an external one), where results go
// (InfluxDB), the plant time zone, the equipment registry and the activity
// thresholds. Load fails on unknown keys and names every bad key with its line.
package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

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

	stateCodes    map[string]state.State
	plantCalendar *calendar.Calendar
	lineCalendars map[string]*calendar.Calendar
}

// NATS says where signals are consumed from.
type NATS struct {
	// URL of an external NATS server; empty runs the embedded one.
	URL string `yaml:"url"`
	// Listen is the embedded server's client address.
	Listen string `yaml:"listen"`
	// StoreDir holds the embedded server's JetStream files (default data_dir/jetstream).
	StoreDir string `yaml:"store_dir"`
	// Stream is the JetStream stream of signals.
	Stream string `yaml:"stream"`
	// SubjectPrefix is the first part of the signal subjects, as the agents
	// publish them.
	SubjectPrefix string `yaml:"subject_prefix"`
	// Consumer is the durable consumer's name.
	Consumer string `yaml:"consumer"`
	// DuplicateWindow is how long the stream remembers message ids to drop
	// a batch an agent sends again.
	DuplicateWindow time.Duration `yaml:"duplicate_window"`
	// MaxAge is how long signals are kept in the stream (at least the
	// duplicate window).
	MaxAge time.Duration `yaml:"max_age"`
	// MaxBytes bounds the stream's size (0: no bound). When it is full the
	// stream discards its oldest signals, consumed or not (docs/delivery.md).
	MaxBytes Size `yaml:"max_bytes"`
	// Batch is the number of signals fetched at a time (1 to 10000).
	Batch int `yaml:"batch"`
	// Auth is the embedded server's authentication: nkey (every client
	// needs an nkey user: the hub's own, data_dir/hub.nk, created at first
	// start, or an agent's from agents_file) or none (anyone who reaches
	// nats.listen may publish and read everything; for tests only).
	Auth string `yaml:"auth"`
	// AgentsFile holds the agents' NATS identities, written by `hub agent
	// add` (default data_dir/agents.yaml). The running hub reloads it when it
	// changes.
	AgentsFile string `yaml:"agents_file"`
	// User name to connect to an external server with. At most one of
	// user/password, token, creds or nkey is set, and only with nats.url.
	User string `yaml:"user"`
	// Password goes with user. Also {file: PATH} or {env: NAME}.
	Password pconfig.Secret `yaml:"password"`
	// Token authenticates to an external server with a token. Also
	// {file: PATH} or {env: NAME}.
	Token pconfig.Secret `yaml:"token"`
	// Creds is a credentials file (JWT and nkey seed) for an external server.
	Creds string `yaml:"creds"`
	// NKey is a file holding an nkey user seed ("SU...") for an external server.
	NKey string `yaml:"nkey"`
	// TLS is the embedded server's TLS (cert_file and key_file required;
	// ca_file and verify_clients to require client certificates), or with
	// nats.url the client's (ca_file verifies the server instead of the
	// system roots; cert_file and key_file are a client certificate).
	TLS *NATSTLS `yaml:"tls"`
}

// NATSTLS secures the NATS link.
type NATSTLS struct {
	// CertFile is a PEM certificate: the embedded server's, or the hub's
	// client certificate for an external server.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key of cert_file.
	KeyFile string `yaml:"key_file"`
	// CAFile holds PEM CA certificates: those that sign client certificates
	// (embedded server), or those that verify the external server.
	CAFile string `yaml:"ca_file"`
	// VerifyClients makes the embedded server require a client certificate
	// signed by ca_file, on top of the nkey.
	VerifyClients bool `yaml:"verify_clients"`
}

// Embedded server authentication (nats.auth).
const (
	AuthNKey = "nkey"
	AuthNone = "none"
)

// AgentsPath is the agents file: nats.agents_file or data_dir/agents.yaml.
func (c *Config) AgentsPath() string {
	if c.NATS.AgentsFile != "" {
		return c.NATS.AgentsFile
	}
	return filepath.Join(c.DataDir, "agents.yaml")
}

// HubSeedPath is the file of the hub's own nkey seed for the embedded server.
func (c *Config) HubSeedPath() string { return filepath.Join(c.DataDir, "hub.nk") }

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

func (n NATS) validate(add func(string, string, ...any)) {
	if n.URL != "" {
		if u, err := url.Parse(n.URL); err != nil || u.Host == "" {
			add("nats.url", "not a URL like nats://host:4222 (got %q)", n.URL)
		}
	} else if _, _, err := net.SplitHostPort(n.Listen); err != nil {
		add("nats.listen", "not host:port: %v", err)
	}
	if !signal.ValidToken(n.Stream) {
		add("nats.stream", "invalid stream name %q", n.Stream)
	}
	if n.SubjectPrefix == "" || strings.ContainsAny(n.SubjectPrefix, " *>") {
		add("nats.subject_prefix", "invalid subject prefix %q", n.SubjectPrefix)
	}
	if !signal.ValidToken(n.Consumer) {
		add("nats.consumer", "invalid consumer name %q", n.Consumer)
	}
	if n.DuplicateWindow <= 0 {
		add("nats.duplicate_window", "must be positive")
	}
	if n.MaxAge < n.DuplicateWindow {
		add("nats.max_age", "must be at least the duplicate window")
	}
	if n.MaxBytes != 0 && n.MaxBytes < 1<<20 {
		add("nats.max_bytes", "must be 0 (no bound) or at least 1MiB (got %s)", n.MaxBytes)
	}
	if n.Batch < 1 || n.Batch > 10000 {
		add("nats.batch", "must be between 1 and 10000 (got %d)", n.Batch)
	}
	n.validateAuth(add)
}

// validateAuth checks the authentication and TLS keys: the server's for the
// embedded server, the client's for an external one.
func (n NATS) validateAuth(add func(string, string, ...any)) {
	switch n.Auth {
	case AuthNKey:
	case AuthNone:
		if n.URL != "" {
			add("nats.auth", "applies to the embedded server only; with nats.url the server's own configuration decides")
		}
	default:
		add("nats.auth", "want nkey or none (got %q)", n.Auth)
	}
	var set []string
	for _, m := range []struct {
		key string
		on  bool
	}{{"nats.user", n.User != ""}, {"nats.token", n.Token.IsSet()}, {"nats.creds", n.Creds != ""}, {"nats.nkey", n.NKey != ""}} {
		if !m.on {
			continue
		}
		if n.URL == "" {
			add(m.key, "only with nats.url: the hub authenticates to its embedded server with its own key")
		}
		set = append(set, m.key)
	}
	if len(set) > 1 {
		add(set[1], "use only one of user/password, token, creds or nkey (%s is set too)", set[0])
	}
	if n.Password.IsSet() && n.User == "" {
		add("nats.password", "set without nats.user")
	}
	if n.Creds != "" {
		if _, err := os.ReadFile(n.Creds); err != nil {
			add("nats.creds", "%v", err)
		}
	}
	if n.NKey != "" {
		if _, err := nats.NkeyOptionFromSeed(n.NKey); err != nil {
			add("nats.nkey", "%v", err)
		}
	}
	if n.AgentsFile != "" && (n.URL != "" || n.Auth == AuthNone) {
		add("nats.agents_file", "only for the embedded server with nats.auth: nkey")
	}
	if n.TLS != nil {
		n.TLS.validate(n.URL == "", add)
	}
}

func (t *NATSTLS) validate(embedded bool, add func(string, string, ...any)) {
	switch {
	case embedded && (t.CertFile == "" || t.KeyFile == ""):
		add("nats.tls", "the embedded server needs cert_file and key_file")
	case (t.CertFile == "") != (t.KeyFile == ""):
		add("nats.tls", "cert_file and key_file go together")
	case t.CertFile != "":
		if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
			add("nats.tls.cert_file", "%v", err)
		}
	}
	if t.CAFile != "" {
		if pem, err := os.ReadFile(t.CAFile); err != nil {
			add("nats.tls.ca_file", "%v", err)
		} else if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			add("nats.tls.ca_file", "no PEM certificate in %s", t.CAFile)
		}
	}
	if t.VerifyClients && !embedded {
		add("nats.tls.verify_clients", "only for the embedded server")
	} else if t.VerifyClients && t.CAFile == "" {
		add("nats.tls.verify_clients", "needs ca_file, the CA that signs the client certificates")
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
