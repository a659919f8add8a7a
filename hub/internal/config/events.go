package config

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/alert"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	pconfig "github.com/floorpulse/floorpulse/pkg/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Events configures anomaly events: detectors, the events stream, webhooks,
// the alert roster and escalation. Zero durations and counts take the
// defaults below (applied by Validate); negative ones are errors.
type Events struct {
	// Detectors are the anomaly detectors' thresholds: plant-wide here, and
	// per line or class under lines and classes.
	Detectors Detectors `yaml:"detectors"`
	// Stream is the JetStream stream every record change is published to.
	Stream EventStream `yaml:"stream"`
	// Webhooks are HTTP endpoints: maintenance systems (record changes) and
	// chat channels (alerts routed to them by the roster).
	Webhooks []Webhook `yaml:"webhooks"`
	// Retry is the back-off between delivery attempts.
	Retry Retry `yaml:"retry"`
	// Alerts routes downtime alerts to shift leaders and escalates them.
	Alerts Alerts `yaml:"alerts"`
	// PublicURL is the hub's HTTP address as people reach it; messages link
	// to the acknowledge page under it. Empty: no links.
	PublicURL string `yaml:"public_url"`
}

// EventStream is the JetStream stream of events.
type EventStream struct {
	// Name of the stream; it differs from the signals stream.
	Name string `yaml:"name"`
	// SubjectPrefix of the events' subjects, apart from the signals'.
	SubjectPrefix string `yaml:"subject_prefix"`
	// DuplicateWindow is how long the stream drops a record change
	// published twice.
	DuplicateWindow time.Duration `yaml:"duplicate_window"`
	// MaxAge is how long events are kept (2160h: 90 days).
	MaxAge time.Duration `yaml:"max_age"`
	// MaxBytes bounds the stream's size (1GiB, at least 1MiB); when it is
	// full the oldest events go first, so a storm of events cannot fill
	// the disk.
	MaxBytes pconfig.Size `yaml:"max_bytes"`
	// Replicas of the stream (1 to 5).
	Replicas int `yaml:"replicas"`
}

// Webhook formats.
const (
	FormatJSON        = "json"
	FormatCloudEvents = "cloudevents"
	FormatText        = "text"
	FormatDingTalk    = "dingtalk"
	FormatWeCom       = "wecom"
)

// Webhook is one HTTP endpoint.
type Webhook struct {
	// Name identifies the endpoint (logs, dead letters, people's channels).
	Name string `yaml:"name"`
	// URL of the endpoint (http or https).
	URL string `yaml:"url"`
	// Secret signs deliveries (Standard Webhooks): whsec_ then base64. Empty:
	// unsigned. Also {file: PATH} or {env: NAME}.
	Secret pconfig.Secret `yaml:"secret"`
	// Format of the body: json (default), cloudevents, text, dingtalk or wecom.
	Format string `yaml:"format"`
	// Events: the endpoint receives every record change that passes the
	// filter below (default true); false: only alerts routed to it.
	Events *bool `yaml:"events"`
	// Types filters the events by type (empty: all).
	Types []string `yaml:"types"`
	// Lines filters the events by line (empty: all).
	Lines []string `yaml:"lines"`
	// MinSeverity filters the events by their lowest severity: info,
	// warning or critical (empty: all).
	MinSeverity string `yaml:"min_severity"`
	// Timeout per attempt (default 10s).
	Timeout time.Duration `yaml:"timeout"`
	// MaxAttempts before a delivery goes to the dead letters (default 20).
	MaxAttempts int `yaml:"max_attempts"`
	// Headers are added to every request (e.g. Authorization); each value
	// is a secret: also {file: PATH} or {env: NAME}.
	Headers map[string]pconfig.Secret `yaml:"headers"`
}

// ReceivesEvents reports whether the endpoint gets record changes.
func (w Webhook) ReceivesEvents() bool { return w.Events == nil || *w.Events }

// Retry is an exponential back-off with jitter between Min and Max.
type Retry struct {
	// Min is the first back-off.
	Min time.Duration `yaml:"min"`
	// Max is the longest back-off (at least min).
	Max time.Duration `yaml:"max"`
}

// Alerts configures downtime alerts.
type Alerts struct {
	// MaxAge: downtime detected longer ago than this when the hub first sees
	// it (history replay) is recorded and published but alerts nobody (default 15m).
	MaxAge time.Duration `yaml:"max_age"`
	// EscalateAfter: not acknowledged this long after the alert, it goes to
	// management, once (default 10m; no management: no escalation).
	EscalateAfter time.Duration `yaml:"escalate_after"`
	// RepeatInterval repeats an alert while it is neither acknowledged nor resolved (0: never).
	RepeatInterval time.Duration `yaml:"repeat_interval"`
	// Management are the people escalations go to.
	Management []string `yaml:"management"`
	// People maps a person's id to how they are reached.
	People map[string]Person `yaml:"people"`
	// Roster maps line (or "*") -> shift name (or "all") -> people ids.
	Roster map[string]map[string][]string `yaml:"roster"`
}

// Person is someone alerts reach.
type Person struct {
	// Channel names the webhook endpoint that reaches the person.
	Channel string `yaml:"channel"`
	// Mention is how messages name the person (e.g. "@alice"); default the id.
	Mention string `yaml:"mention"`
}

// Policy returns the alert policy (valid after Validate).
func (a Alerts) Policy() alert.Policy {
	r := alert.Roster{People: map[string]alert.Person{}, Lines: a.Roster, Management: a.Management}
	for id, p := range a.People {
		r.People[id] = alert.Person{Channel: p.Channel, Mention: p.Mention}
	}
	return alert.Policy{Roster: r, MaxAge: a.MaxAge, EscalateAfter: a.EscalateAfter, RepeatInterval: a.RepeatInterval}
}

func (e *Events) setDefaults() {
	s := &e.Stream
	if s.Name == "" {
		s.Name = "FLOORPULSE_EVENTS"
	}
	if s.SubjectPrefix == "" {
		s.SubjectPrefix = "floorpulse.events"
	}
	if s.DuplicateWindow == 0 {
		s.DuplicateWindow = 24 * time.Hour
	}
	if s.MaxAge == 0 {
		s.MaxAge = 90 * 24 * time.Hour
	}
	if s.MaxBytes == 0 {
		s.MaxBytes = 1 << 30
	}
	if s.Replicas == 0 {
		s.Replicas = 1
	}
	if e.Retry.Min == 0 {
		e.Retry.Min = time.Second
	}
	if e.Retry.Max == 0 {
		e.Retry.Max = 5 * time.Minute
	}
	for i := range e.Webhooks {
		w := &e.Webhooks[i]
		if w.Format == "" {
			w.Format = FormatJSON
		}
		if w.Timeout == 0 {
			w.Timeout = 10 * time.Second
		}
		if w.MaxAttempts == 0 {
			w.MaxAttempts = 20
		}
	}
	if e.Alerts.MaxAge == 0 {
		e.Alerts.MaxAge = 15 * time.Minute
	}
	if e.Alerts.EscalateAfter == 0 {
		e.Alerts.EscalateAfter = 10 * time.Minute
	}
}

// validateEvents checks the events section (and fills its defaults).
func (c *Config) validateEvents(add func(string, string, ...any)) {
	c.Events.Detectors.Validate("events.detectors.", add)
	e := &c.Events
	e.setDefaults()
	e.Stream.validate(c.NATS, add)
	if e.Retry.Min < 0 {
		add("events.retry.min", "must not be negative")
	}
	if e.Retry.Max < e.Retry.Min {
		add("events.retry.max", "must be at least retry.min (%s)", e.Retry.Min)
	}
	if e.PublicURL != "" {
		if u, err := url.Parse(e.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("events.public_url", "not an http(s) URL (got %q)", e.PublicURL)
		}
	}
	names := map[string]bool{}
	for i, w := range e.Webhooks {
		p := fmt.Sprintf("events.webhooks[%d]", i)
		switch {
		case !signal.ValidToken(w.Name):
			add(p+".name", "required, a name without spaces, dots, '*' or '>' (got %q)", w.Name)
		case names[w.Name]:
			add(p+".name", "endpoint %q defined twice", w.Name)
		}
		names[w.Name] = true
		w.validate(p, add)
	}
	c.validateAlerts(names, add)
}

// validate checks the events stream, which must stay apart from the
// signals stream of signals.
func (s EventStream) validate(signals NATS, add func(string, string, ...any)) {
	if !signal.ValidToken(s.Name) {
		add("events.stream.name", "invalid stream name %q", s.Name)
	}
	if strings.ContainsAny(s.SubjectPrefix, " *>") || strings.HasPrefix(s.SubjectPrefix, ".") || strings.HasSuffix(s.SubjectPrefix, ".") {
		add("events.stream.subject_prefix", "invalid subject prefix %q", s.SubjectPrefix)
	} else if p := signals.SubjectPrefix; s.SubjectPrefix == p || strings.HasPrefix(s.SubjectPrefix, p+".") || strings.HasPrefix(p, s.SubjectPrefix+".") {
		add("events.stream.subject_prefix", "%q overlaps the signals subjects %q", s.SubjectPrefix, p)
	}
	if s.Name == signals.Stream {
		add("events.stream.name", "must differ from the signals stream %q", signals.Stream)
	}
	if s.DuplicateWindow < 0 {
		add("events.stream.duplicate_window", "must not be negative")
	}
	if s.MaxAge < 0 || s.MaxAge < s.DuplicateWindow {
		add("events.stream.max_age", "must be at least the duplicate window (%s)", s.DuplicateWindow)
	}
	if s.Replicas < 0 || s.Replicas > 5 {
		add("events.stream.replicas", "must be between 1 and 5 (got %d)", s.Replicas)
	}
	if s.MaxBytes < 1<<20 {
		add("events.stream.max_bytes", "must be at least 1MiB (got %s)", s.MaxBytes)
	}
}

// validate checks one webhook endpoint (its name is checked by the caller,
// against the others'); p is its key path.
func (w Webhook) validate(p string, add func(string, string, ...any)) {
	if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add(p+".url", "not an http(s) URL (got %q)", w.URL)
	}
	if w.Secret.IsSet() {
		if err := checkSecret(w.Secret.Value()); err != nil {
			add(p+".secret", "%v", err)
		}
	}
	switch w.Format {
	case FormatJSON, FormatCloudEvents, FormatText, FormatDingTalk, FormatWeCom:
	default:
		add(p+".format", "unknown format %q (want json, cloudevents, text, dingtalk or wecom)", w.Format)
	}
	for j, t := range w.Types {
		if !slices.Contains(anomaly.Types, t) {
			add(fmt.Sprintf("%s.types[%d]", p, j), "unknown event type %q (want one of %s)", t, strings.Join(anomaly.Types, ", "))
		}
	}
	for j, l := range w.Lines {
		if !signal.ValidToken(l) {
			add(fmt.Sprintf("%s.lines[%d]", p, j), "invalid line %q", l)
		}
	}
	switch w.MinSeverity {
	case "", anomaly.Info, anomaly.Warning, anomaly.Critical:
	default:
		add(p+".min_severity", "unknown severity %q (want info, warning or critical)", w.MinSeverity)
	}
	if w.Timeout < 0 {
		add(p+".timeout", "must be positive")
	}
	if w.MaxAttempts < 0 {
		add(p+".max_attempts", "must be positive (got %d)", w.MaxAttempts)
	}
	for h := range w.Headers {
		if h == "" || strings.ContainsAny(h, " :\r\n") || strings.HasPrefix(strings.ToLower(h), "webhook-") {
			add(p+".headers", "invalid or reserved header name %q", h)
		}
	}
}

// checkSecret checks a Standard Webhooks secret: whsec_ and 24 to 64 bytes in base64.
func checkSecret(s string) error {
	b64, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return fmt.Errorf("want whsec_ followed by base64")
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return fmt.Errorf("not base64 after whsec_: %v", err)
	}
	if len(key) < 24 || len(key) > 64 {
		return fmt.Errorf("key must be 24 to 64 bytes (got %d)", len(key))
	}
	return nil
}

func (c *Config) validateAlerts(endpoints map[string]bool, add func(string, string, ...any)) {
	a := c.Events.Alerts
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"max_age", a.MaxAge}, {"escalate_after", a.EscalateAfter}, {"repeat_interval", a.RepeatInterval}} {
		if d.v < 0 {
			add("events.alerts."+d.key, "must not be negative")
		}
	}
	if a.RepeatInterval > 0 && a.RepeatInterval < time.Minute {
		add("events.alerts.repeat_interval", "must be 0 (off) or at least 1m (got %s)", a.RepeatInterval)
	}
	for _, id := range sortedKeys(a.People) {
		p := a.People[id]
		switch {
		case p.Channel == "":
			add("events.alerts.people."+id+".channel", "required: the name of a webhook endpoint")
		case !endpoints[p.Channel]:
			add("events.alerts.people."+id+".channel", "no webhook endpoint named %q", p.Channel)
		}
	}
	for i, id := range a.Management {
		if _, ok := a.People[id]; !ok {
			add(fmt.Sprintf("events.alerts.management[%d]", i), "%q is not in events.alerts.people", id)
		}
	}
	// Shift names each roster line may use: its calendar's (line calendar,
	// else the plant's), "all", and for "*" any shift.
	shiftsOf := func(cal Calendar) []string {
		var out []string
		for _, w := range cal.Shifts {
			out = append(out, w.Name)
		}
		return out
	}
	allShifts := shiftsOf(c.Calendar)
	for _, lc := range c.LineCalendars {
		allShifts = append(allShifts, shiftsOf(lc)...)
	}
	for _, line := range sortedKeys(a.Roster) {
		p := "events.alerts.roster." + line
		if line != alert.AnyLine && !signal.ValidToken(line) {
			add(p, "invalid line %q (want a line or \"*\")", line)
		}
		known := allShifts
		if line != alert.AnyLine {
			known = shiftsOf(c.Calendar)
			if lc, ok := c.LineCalendars[line]; ok {
				known = shiftsOf(lc)
			}
		}
		for _, shift := range sortedKeys(a.Roster[line]) {
			if shift != alert.AnyShift && !slices.Contains(known, shift) {
				add(p+"."+shift, "no shift %q in the calendar of line %s (shifts: %s; or %q)", shift, line, strings.Join(known, ", "), alert.AnyShift)
			}
			for i, id := range a.Roster[line][shift] {
				if _, ok := a.People[id]; !ok {
					add(fmt.Sprintf("%s.%s[%d]", p, shift, i), "%q is not in events.alerts.people", id)
				}
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
