package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	loader "github.com/floorpulse/floorpulse/pkg/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
	sparkplugpkg "github.com/floorpulse/floorpulse/pkg/sparkplug"
)

// MQTT is one broker connection.
type MQTT struct {
	// Broker is the broker's URL: tcp://, mqtt://, ws://, or with TLS ssl://,
	// tls://, mqtts:// or wss:// (e.g. tcp://127.0.0.1:1883).
	Broker string `yaml:"broker"`
	// ClientID is the MQTT client id; a fixed id keeps the broker session.
	// Default floorpulse-agent-<agent_id>, with -<n> after the first broker.
	ClientID string `yaml:"client_id"`
	// QoS of the subscriptions: 0, 1 or 2 (default 1).
	QoS *int `yaml:"qos"`
	// CleanSession starts a new session at every connect; default false:
	// the broker keeps messages while the agent is down.
	CleanSession bool `yaml:"clean_session"`
	// Username logs in to the broker; default anonymous.
	Username string `yaml:"username"`
	// Password goes with username. Also {file: PATH} or {env: NAME}.
	Password loader.Secret `yaml:"password"`
	// KeepAlive is the MQTT keep-alive interval (at least 1s; default 30s).
	KeepAlive time.Duration `yaml:"keep_alive"`
	// MaxReconnectInterval bounds the back-off between reconnect attempts
	// (at least 100ms; default 10s).
	MaxReconnectInterval time.Duration `yaml:"max_reconnect_interval"`
	// TLS is for ssl://, tls://, mqtts:// and wss:// brokers.
	TLS *TLS `yaml:"tls"`
	// Subscriptions map topics to signals; at least one.
	Subscriptions []Subscription `yaml:"subscriptions"`
	// Sparkplug configures the connection as a Sparkplug 3.0 host
	// application (only with a sparkplug_b subscription).
	Sparkplug *SparkplugHost `yaml:"sparkplug"`
}

// SparkplugHost is the Sparkplug host application side of a broker
// connection.
type SparkplugHost struct {
	// PrimaryHostID makes the agent the primary host application of that
	// id: its connection's will is spBv1.0/STATE/<id> {"online":false},
	// retained, and it publishes {"online":true} there after subscribing,
	// so edge nodes configured with this id hold their data while the
	// agent is away and send it, historical, when it is back.
	PrimaryHostID string `yaml:"primary_host_id"`
	// Liveness is how long the broker may take to publish the death of an
	// edge node that went silent: 1.5 times the longest keep-alive of the
	// nodes (90s by default, for a keep-alive of 60 s). The agent vouches
	// for a live node's machines up to now less this (watermarks), so the
	// hub holds their state up to then while nothing changes.
	Liveness time.Duration `yaml:"liveness"`
}

// TLS is the transport security of a broker connection. Paths are read as
// given (relative ones from the agent's working directory).
type TLS struct {
	// CA is a file of PEM CA certificates that verify the server; "" = the
	// system's roots.
	CA string `yaml:"ca"`
	// Cert is a PEM client certificate file (with key), for servers that
	// verify clients.
	Cert string `yaml:"cert"`
	// Key is the PEM private key file of cert.
	Key string `yaml:"key"`
	// ServerName is the name checked in the server's certificate; "" = the
	// URL's host.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any server certificate (tests only).
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Subscription maps the messages of one topic filter to signals.
type Subscription struct {
	// Topic is the MQTT topic filter subscribed to (+ and # allowed).
	Topic string `yaml:"topic"`
	// Template maps topic levels to fields, e.g.
	// "floorpulse/{site}/{line}/{equipment}/{signal}": a level is a literal,
	// "+" (ignored) or one of {site}, {line}, {equipment}, {signal}; a final
	// "#" matches any remaining levels.
	Template string `yaml:"template"`
	// Format of the payloads: json (default), plain or sparkplug_b.
	Format string `yaml:"format"`
	// Value is, for json, the dot separated path of the value (default
	// "value"); "" = the whole payload.
	Value string `yaml:"value"`
	// Time is, for json, the dot separated path of the timestamp; "" = none
	// (the receive time is used, and flagged).
	Time string `yaml:"time"`
	// TimeFormat of the timestamp: rfc3339 (default), unix or unix_ms.
	TimeFormat string `yaml:"time_format"`
	// Site is the fixed site, used when the template does not give one
	// (default the top-level site).
	Site string `yaml:"site"`
	// Line is the fixed line, used when the template does not give one.
	Line string `yaml:"line"`
	// Equipment is the fixed equipment, used when the template does not
	// give one.
	Equipment string `yaml:"equipment"`
	// Signal is the fixed signal name, used when the template does not give one.
	Signal string `yaml:"signal"`
	// Metric is, for sparkplug_b only, a template over the metric name ("/"
	// separated levels, e.g. "{equipment}/{signal}"; default "{signal}").
	Metric string `yaml:"metric"`
	// Rename replaces, for sparkplug_b only, a metric name (the key) by
	// another (the value) before metric is matched against it.
	Rename map[string]string `yaml:"rename"`

	tmpl   Template
	metric Template
}

// Formats of subscription payloads.
const (
	FormatJSON      = "json"
	FormatPlain     = "plain"
	FormatSparkplug = "sparkplug_b"
)

// SparkplugNamespace is the first topic level of every Sparkplug B message.
const SparkplugNamespace = "spBv1.0"

// Compiled returns the compiled topic template (valid after Validate).
func (s Subscription) Compiled() Template { return s.tmpl }

// CompiledMetric returns the compiled metric name template of a sparkplug_b
// subscription (valid after Validate).
func (s Subscription) CompiledMetric() Template { return s.metric }

// fillMQTTDefaults sets defaults inside the mqtt list. Only zero values are replaced.
func (c *Config) fillMQTTDefaults() {
	for i := range c.MQTT {
		m := &c.MQTT[i]
		if m.ClientID == "" && c.AgentID != "" {
			m.ClientID = "floorpulse-agent-" + c.AgentID
			if i > 0 {
				m.ClientID += fmt.Sprintf("-%d", i)
			}
		}
		if m.QoS == nil {
			q := 1
			m.QoS = &q
		}
		if m.KeepAlive == 0 {
			m.KeepAlive = 30 * time.Second
		}
		if m.MaxReconnectInterval == 0 {
			m.MaxReconnectInterval = 10 * time.Second
		}
		for j := range m.Subscriptions {
			s := &m.Subscriptions[j]
			if s.Format == "" {
				s.Format = FormatJSON
			}
			if s.Format == FormatJSON && s.Value == "" {
				s.Value = "value"
			}
			if s.Format == FormatSparkplug && s.Metric == "" {
				s.Metric = "{signal}"
			}
			if s.TimeFormat == "" {
				s.TimeFormat = "rfc3339"
			}
		}
	}
}

func (c *Config) validateMQTT(i int, ids map[string]string) []error {
	var errs []error
	m := &c.MQTT[i]
	p := fmt.Sprintf("mqtt[%d]", i)
	bad := func(path, format string, args ...any) { errs = append(errs, loader.Errorf(path, format, args...)) }
	scheme := ""
	if u, err := url.Parse(m.Broker); m.Broker == "" || err != nil || u.Host == "" {
		bad(p+".broker", "invalid broker URL %q (want e.g. tcp://127.0.0.1:1883)", m.Broker)
	} else {
		scheme = u.Scheme
		switch scheme {
		case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
		default:
			bad(p+".broker", "unsupported scheme %q (want tcp, mqtt, ssl, tls, mqtts, ws or wss)", u.Scheme)
		}
	}
	if m.TLS != nil {
		if scheme != "" && !TLSScheme(scheme) {
			bad(p+".tls", "set, but the broker scheme %q does not use TLS (use ssl://, tls://, mqtts:// or wss://)", scheme)
		}
		for _, e := range m.TLS.check() {
			bad(p+".tls."+e.key, "%v", e.err)
		}
	}
	if m.ClientID == "" {
		bad(p+".client_id", "required (a fixed id keeps the broker session)")
	} else if prev, dup := ids[m.ClientID]; dup {
		bad(p+".client_id", "%q already used by %s", m.ClientID, prev)
	} else {
		ids[m.ClientID] = p
	}
	if q := *m.QoS; q < 0 || q > 2 {
		bad(p+".qos", "must be 0, 1 or 2, got %d", q)
	}
	if m.KeepAlive < time.Second {
		bad(p+".keep_alive", "must be at least 1s")
	}
	if m.MaxReconnectInterval < 100*time.Millisecond {
		bad(p+".max_reconnect_interval", "must be at least 100ms")
	}
	if len(m.Subscriptions) == 0 {
		bad(p+".subscriptions", "at least one subscription is required")
	}
	sparkplug := false
	for j := range m.Subscriptions {
		errs = append(errs, c.validateSubscription(&m.Subscriptions[j], fmt.Sprintf("%s.subscriptions[%d]", p, j))...)
		sparkplug = sparkplug || m.Subscriptions[j].Format == FormatSparkplug
	}
	if m.Sparkplug != nil {
		if !sparkplug {
			bad(p+".sparkplug", "set, but no subscription has format %s", FormatSparkplug)
		}
		if m.Sparkplug.Liveness < 0 {
			bad(p+".sparkplug.liveness", "must not be negative")
		}
		if id := m.Sparkplug.PrimaryHostID; id != "" && !sparkplugpkg.ValidHostID(id) {
			bad(p+".sparkplug.primary_host_id", "%q is not a valid host id (a topic level: no /, + or #)", id)
		}
	}
	return errs
}

func (c *Config) validateSubscription(s *Subscription, sp string) []error {
	var errs []error
	bad := func(path, format string, args ...any) { errs = append(errs, loader.Errorf(path, format, args...)) }
	if s.Topic == "" {
		bad(sp+".topic", "required")
	}
	sparkplug := s.Format == FormatSparkplug
	t, tmplErr := ParseTemplate(s.Template)
	if tmplErr != nil {
		bad(sp+".template", "%v", tmplErr)
	} else if sparkplug {
		if err := checkSparkplugTemplate(t); err != nil {
			bad(sp+".template", "%q: %v", s.Template, err)
		} else {
			s.tmpl = t
		}
	} else {
		s.tmpl = t
	}
	if sparkplug {
		if !strings.HasPrefix(s.Topic, SparkplugNamespace+"/") {
			bad(sp+".topic", "%q: a sparkplug_b subscription takes topics under %s/ (e.g. %s/<group>/#)", s.Topic, SparkplugNamespace, SparkplugNamespace)
		}
		mt, err := ParseTemplate(s.Metric)
		if err != nil {
			bad(sp+".metric", "%v", err)
		} else {
			s.metric = mt
			for _, f := range []string{FieldSite, FieldLine, FieldEquipment, FieldSignal} {
				if mt.Has(f) && s.tmpl.Has(f) {
					bad(sp+".metric", "%q gives {%s}, which the template gives too", s.Metric, f)
				}
			}
		}
		for from, to := range s.Rename {
			if from == "" || to == "" {
				bad(sp+".rename", "empty metric name in %q: %q", from, to)
			}
		}
	} else {
		if s.Metric != "" {
			bad(sp+".metric", "only for format sparkplug_b")
		}
		if len(s.Rename) > 0 {
			bad(sp+".rename", "only for format sparkplug_b")
		}
	}
	if tmplErr == nil {
		for _, f := range []struct{ name, fixed, fallback string }{
			{FieldSite, s.Site, c.Site}, {FieldLine, s.Line, ""}, {FieldEquipment, s.Equipment, ""}, {FieldSignal, s.Signal, ""},
		} {
			if !t.Has(f.name) && !s.metric.Has(f.name) && f.fixed == "" && f.fallback == "" {
				if sparkplug {
					bad(sp+".template", "neither %q nor metric %q gives {%s}: add it to one of them or set %s", s.Template, s.Metric, f.name, f.name)
				} else {
					bad(sp+".template", "%q does not give {%s}: add it to the template or set %s", s.Template, f.name, f.name)
				}
			}
		}
	}
	for _, f := range []struct{ key, v string }{{"site", s.Site}, {"line", s.Line}, {"equipment", s.Equipment}, {"signal", s.Signal}} {
		if f.v != "" && !signal.ValidToken(f.v) {
			bad(sp+"."+f.key, "%q is not a valid name", f.v)
		}
	}
	switch s.Format {
	case FormatJSON:
	case FormatPlain:
		if s.Time != "" {
			bad(sp+".time", "plain payloads carry no timestamp; remove time")
		}
	case FormatSparkplug:
		if s.Value != "" {
			bad(sp+".value", "sparkplug_b payloads carry typed metrics; remove value")
		}
		if s.Time != "" {
			bad(sp+".time", "sparkplug_b payloads carry their own timestamps; remove time")
		}
	default:
		bad(sp+".format", "unknown format %q (want json, plain or sparkplug_b)", s.Format)
	}
	switch s.TimeFormat {
	case "rfc3339", "unix", "unix_ms":
	default:
		bad(sp+".time_format", "unknown time format %q (want rfc3339, unix or unix_ms)", s.TimeFormat)
	}
	return errs
}

// checkSparkplugTemplate checks that a template fits Sparkplug B topics,
// spBv1.0/<group>/<type>/<edge_node>[/<device>]: namespace first, "+" for the
// message type, at most five levels.
func checkSparkplugTemplate(t Template) error {
	if lit, _ := t.Level(0); lit != SparkplugNamespace {
		return fmt.Errorf("a sparkplug_b template starts with %s/ (%s/<group>/+/<edge_node>/<device>)", SparkplugNamespace, SparkplugNamespace)
	}
	if t.Len() > 2 {
		if lit, _ := t.Level(2); lit != "+" {
			return fmt.Errorf("level 2 is the message type (NBIRTH, DDATA, ...) and must be +")
		}
	}
	if t.Len() > 5 {
		return fmt.Errorf("sparkplug topics have at most 5 levels (%s/<group>/<type>/<edge_node>/<device>)", SparkplugNamespace)
	}
	return nil
}

// TLSScheme reports whether a broker URL scheme means a TLS connection.
func TLSScheme(scheme string) bool {
	switch scheme {
	case "ssl", "tls", "mqtts", "wss":
		return true
	}
	return false
}

type tlsProblem struct {
	key string
	err error
}

// check reads every file the TLS section names and returns each problem with
// its key.
func (t *TLS) check() []tlsProblem {
	var out []tlsProblem
	if t.CA != "" {
		if _, err := readCA(t.CA); err != nil {
			out = append(out, tlsProblem{"ca", err})
		}
	}
	switch {
	case t.Cert != "" && t.Key == "":
		out = append(out, tlsProblem{"key", errors.New("required with cert")})
	case t.Cert == "" && t.Key != "":
		out = append(out, tlsProblem{"cert", errors.New("required with key")})
	case t.Cert != "":
		if _, err := readKeyPair(t.Cert, t.Key); err != nil {
			out = append(out, tlsProblem{err.key, err.err})
		}
	}
	if t.ServerName != "" && strings.ContainsAny(t.ServerName, " /:") {
		out = append(out, tlsProblem{"server_name", fmt.Errorf("%q is not a host name", t.ServerName)})
	}
	if t.InsecureSkipVerify && t.CA != "" {
		out = append(out, tlsProblem{"insecure_skip_verify", errors.New("turns off the check ca is for; remove one of them")})
	}
	return out
}

// Config builds the client TLS configuration, reading the files again (a
// certificate may have been renewed since the configuration was checked).
// A nil TLS gives the defaults: the system's roots, the broker URL's host.
func (t *TLS) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if t == nil {
		return cfg, nil
	}
	cfg.ServerName = t.ServerName
	cfg.InsecureSkipVerify = t.InsecureSkipVerify
	if t.CA != "" {
		pool, err := readCA(t.CA)
		if err != nil {
			return nil, fmt.Errorf("tls.ca: %w", err)
		}
		cfg.RootCAs = pool
	}
	if t.Cert != "" {
		pair, err := readKeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("tls.%s: %w", err.key, err.err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// readCA reads a PEM file of CA certificates; every block must be a certificate.
func readCA(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: PEM block %d is a %q, want CERTIFICATE", path, n+1, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %v", path, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// readKeyPair loads a client certificate and its key; a problem names the
// key (cert or key) it belongs to.
func readKeyPair(certPath, keyPath string) (tls.Certificate, *tlsProblem) {
	if _, err := os.Stat(certPath); err != nil {
		return tls.Certificate{}, &tlsProblem{"cert", err}
	}
	if _, err := os.Stat(keyPath); err != nil {
		return tls.Certificate{}, &tlsProblem{"key", err}
	}
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return tls.Certificate{}, &tlsProblem{"cert", fmt.Errorf("%s with key %s: %v", certPath, keyPath, err)}
	}
	if pair.Leaf != nil && time.Now().After(pair.Leaf.NotAfter) {
		return tls.Certificate{}, &tlsProblem{"cert", fmt.Errorf("%s expired at %s", certPath, pair.Leaf.NotAfter.UTC().Format(time.RFC3339))}
	}
	return pair, nil
}
