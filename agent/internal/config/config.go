// Package config is the agent's configuration: one YAML file, decoded strictly
// (unknown keys are errors), defaults filled by SetToDefault and Validate, and
// every problem reported at once with its key path and line.
//
// What always holds after Load succeeds: there is at least one source, every
// MQTT subscription has a compiled topic template that (with the fixed fields
// and the default site) yields site, line, equipment and signal, and every OPC
// UA node id parses and is mapped to valid names.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/gopcua/opcua/ua"

	loader "github.com/floorpulse/floorpulse/pkg/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Config is the whole agent configuration.
type Config struct {
	AgentID  string  `yaml:"agent_id"`
	Site     string  `yaml:"site"`     // default site for mappings that do not name one
	DataDir  string  `yaml:"data_dir"` // holds queue.db
	HTTP     string  `yaml:"http"`     // listen address of /healthz, /readyz, /metrics; "" disables
	LogLevel string  `yaml:"log_level"`
	NATS     NATS    `yaml:"nats"`
	Buffer   Buffer  `yaml:"buffer"`
	MQTT     []MQTT  `yaml:"mqtt"`
	OPCUA    []OPCUA `yaml:"opcua"`
}

// NATS is the JetStream connection signals are forwarded over.
type NATS struct {
	URL           string        `yaml:"url"`
	SubjectPrefix string        `yaml:"subject_prefix"`
	Batch         int           `yaml:"batch"`       // signals per forwarded batch
	AckTimeout    time.Duration `yaml:"ack_timeout"` // how long to wait for a batch's acks before retrying
	User          string        `yaml:"user"`
	Password      string        `yaml:"password"`
	Token         string        `yaml:"token"`
	Creds         string        `yaml:"creds"` // credentials file (JWT + nkey)
}

// Buffer is the on-disk queue between sources and the forwarder.
type Buffer struct {
	MaxBytes Size `yaml:"max_bytes"`
	// Policy when MaxBytes is reached: drop_oldest (the only policy): the
	// oldest records are dropped, counted, and replaced by gap markers.
	Policy       string        `yaml:"policy"`
	CommitMax    int           `yaml:"commit_max"`    // signals per commit (one fsync)
	CommitLinger time.Duration `yaml:"commit_linger"` // how long a commit waits to fill up
}

// MQTT is one broker connection.
type MQTT struct {
	Broker               string         `yaml:"broker"`
	ClientID             string         `yaml:"client_id"`
	QoS                  *int           `yaml:"qos"`           // default 1
	CleanSession         bool           `yaml:"clean_session"` // default false: the broker keeps messages while the agent is down
	Username             string         `yaml:"username"`
	Password             string         `yaml:"password"`
	KeepAlive            time.Duration  `yaml:"keep_alive"`
	MaxReconnectInterval time.Duration  `yaml:"max_reconnect_interval"`
	Subscriptions        []Subscription `yaml:"subscriptions"`
}

// Subscription maps the messages of one topic filter to signals.
type Subscription struct {
	Topic      string `yaml:"topic"`
	Template   string `yaml:"template"`    // topic levels -> fields
	Format     string `yaml:"format"`      // json | plain
	Value      string `yaml:"value"`       // json: dot separated path of the value; "" = the whole payload
	Time       string `yaml:"time"`        // json: dot separated path of the timestamp; "" = none (receive time, flagged)
	TimeFormat string `yaml:"time_format"` // rfc3339 | unix | unix_ms
	// Fixed fields, used when the template does not fill them.
	Site      string `yaml:"site"`
	Line      string `yaml:"line"`
	Equipment string `yaml:"equipment"`
	Signal    string `yaml:"signal"`

	tmpl Template
}

// Compiled returns the compiled topic template (valid after Validate).
func (s Subscription) Compiled() Template { return s.tmpl }

// OPCUA is one OPC UA server connection.
type OPCUA struct {
	Endpoint           string        `yaml:"endpoint"`
	SecurityPolicy     string        `yaml:"security_policy"` // None | Basic256Sha256
	SecurityMode       string        `yaml:"security_mode"`   // None | Sign | SignAndEncrypt
	Certificate        string        `yaml:"certificate"`     // client certificate file (PEM or DER), for secured endpoints
	PrivateKey         string        `yaml:"private_key"`     // client private key file (PEM)
	Username           string        `yaml:"username"`
	Password           string        `yaml:"password"`
	PublishingInterval time.Duration `yaml:"publishing_interval"`
	SamplingInterval   time.Duration `yaml:"sampling_interval"`
	QueueSize          uint32        `yaml:"queue_size"` // per monitored item, on the server
	Nodes              []Node        `yaml:"nodes"`
}

// Node maps one OPC UA variable to a signal.
type Node struct {
	NodeID    string `yaml:"node_id"`
	Site      string `yaml:"site"`
	Line      string `yaml:"line"`
	Equipment string `yaml:"equipment"`
	Signal    string `yaml:"signal"`
}

// Load reads, decodes and validates the file at path.
func Load(path string) (*Config, error) {
	var c Config
	if err := loader.Load(path, &c); err != nil {
		return nil, err
	}
	return &c, nil
}

// SetToDefault implements loader.Defaulter.
func (c *Config) SetToDefault() {
	*c = Config{
		DataDir:  "var/agent",
		HTTP:     "127.0.0.1:9102",
		LogLevel: "info",
		NATS: NATS{
			URL:           "nats://127.0.0.1:4222",
			SubjectPrefix: signal.SubjectPrefix,
			Batch:         1000,
			AckTimeout:    10 * time.Second,
		},
		Buffer: Buffer{MaxBytes: 1 << 30, Policy: "drop_oldest", CommitMax: 5000, CommitLinger: 5 * time.Millisecond},
	}
}

// fillDefaults sets defaults inside list elements, which SetToDefault cannot
// reach. Only zero values are replaced.
func (c *Config) fillDefaults() {
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
				s.Format = "json"
			}
			if s.Format == "json" && s.Value == "" {
				s.Value = "value"
			}
			if s.TimeFormat == "" {
				s.TimeFormat = "rfc3339"
			}
		}
	}
	for i := range c.OPCUA {
		o := &c.OPCUA[i]
		if o.SecurityPolicy == "" {
			o.SecurityPolicy = "None"
		}
		if o.SecurityMode == "" {
			o.SecurityMode = "None"
		}
		if o.PublishingInterval == 0 {
			o.PublishingInterval = 100 * time.Millisecond
		}
		if o.QueueSize == 0 {
			o.QueueSize = 100
		}
	}
}

// Validate implements loader.Validator: it fills list defaults, compiles the
// topic templates, and returns every problem found.
func (c *Config) Validate() error {
	c.fillDefaults()
	var errs []error
	bad := func(path, format string, args ...any) { errs = append(errs, loader.Errorf(path, format, args...)) }

	if c.AgentID == "" {
		bad("agent_id", "required")
	} else if !signal.ValidToken(c.AgentID) {
		bad("agent_id", "%q is not a valid name (no spaces, dots, * or >)", c.AgentID)
	}
	if c.Site != "" && !signal.ValidToken(c.Site) {
		bad("site", "%q is not a valid name", c.Site)
	}
	if c.DataDir == "" {
		bad("data_dir", "required")
	}
	if c.HTTP != "" {
		if _, _, err := net.SplitHostPort(c.HTTP); err != nil {
			bad("http", "invalid listen address %q: want host:port", c.HTTP)
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "unknown level %q (want debug, info, warn or error)", c.LogLevel)
	}

	if u, err := url.Parse(c.NATS.URL); c.NATS.URL == "" || err != nil || u.Host == "" {
		bad("nats.url", "invalid URL %q (want e.g. nats://127.0.0.1:4222)", c.NATS.URL)
	}
	if p := c.NATS.SubjectPrefix; p == "" || strings.ContainsAny(p, "*> \t") || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") || strings.Contains(p, "..") {
		bad("nats.subject_prefix", "invalid subject prefix %q", p)
	}
	if c.NATS.Batch < 1 || c.NATS.Batch > 10000 {
		bad("nats.batch", "must be between 1 and 10000, got %d", c.NATS.Batch)
	}
	if c.NATS.AckTimeout <= 0 {
		bad("nats.ack_timeout", "must be positive")
	}
	if c.NATS.Token != "" && (c.NATS.User != "" || c.NATS.Creds != "") {
		bad("nats.token", "use one of user/password, token or creds")
	}
	if c.NATS.Password != "" && c.NATS.User == "" {
		bad("nats.password", "set without nats.user")
	}

	if c.Buffer.MaxBytes < 1<<20 {
		bad("buffer.max_bytes", "must be at least 1MiB, got %s", c.Buffer.MaxBytes)
	}
	if c.Buffer.Policy != "drop_oldest" {
		bad("buffer.policy", "unknown policy %q (want drop_oldest)", c.Buffer.Policy)
	}
	if c.Buffer.CommitMax < 1 {
		bad("buffer.commit_max", "must be positive")
	}
	if c.Buffer.CommitLinger < 0 || c.Buffer.CommitLinger > time.Second {
		bad("buffer.commit_linger", "must be between 0 and 1s, got %s", c.Buffer.CommitLinger)
	}

	if len(c.MQTT) == 0 && len(c.OPCUA) == 0 {
		bad("mqtt", "no source configured: add an mqtt or opcua section")
	}
	ids := map[string]string{}
	for i := range c.MQTT {
		errs = append(errs, c.validateMQTT(i, ids)...)
	}
	for i := range c.OPCUA {
		errs = append(errs, c.validateOPCUA(i)...)
	}
	return errors.Join(errs...)
}

func (c *Config) validateMQTT(i int, ids map[string]string) []error {
	var errs []error
	m := &c.MQTT[i]
	p := fmt.Sprintf("mqtt[%d]", i)
	bad := func(path, format string, args ...any) { errs = append(errs, loader.Errorf(path, format, args...)) }
	if u, err := url.Parse(m.Broker); m.Broker == "" || err != nil || u.Host == "" {
		bad(p+".broker", "invalid broker URL %q (want e.g. tcp://127.0.0.1:1883)", m.Broker)
	} else {
		switch u.Scheme {
		case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
		default:
			bad(p+".broker", "unsupported scheme %q (want tcp, ssl, ws or wss)", u.Scheme)
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
	for j := range m.Subscriptions {
		s := &m.Subscriptions[j]
		sp := fmt.Sprintf("%s.subscriptions[%d]", p, j)
		if s.Topic == "" {
			bad(sp+".topic", "required")
		}
		t, err := ParseTemplate(s.Template)
		if err != nil {
			bad(sp+".template", "%v", err)
		} else {
			s.tmpl = t
			for _, f := range []struct{ name, fixed, fallback string }{
				{FieldSite, s.Site, c.Site}, {FieldLine, s.Line, ""}, {FieldEquipment, s.Equipment, ""}, {FieldSignal, s.Signal, ""},
			} {
				if !t.Has(f.name) && f.fixed == "" && f.fallback == "" {
					bad(sp+".template", "%q does not give {%s}: add it to the template or set %s", s.Template, f.name, f.name)
				}
			}
		}
		for _, f := range []struct{ key, v string }{{"site", s.Site}, {"line", s.Line}, {"equipment", s.Equipment}, {"signal", s.Signal}} {
			if f.v != "" && !signal.ValidToken(f.v) {
				bad(sp+"."+f.key, "%q is not a valid name", f.v)
			}
		}
		switch s.Format {
		case "json":
		case "plain":
			if s.Time != "" {
				bad(sp+".time", "plain payloads carry no timestamp; remove time")
			}
		default:
			bad(sp+".format", "unknown format %q (want json or plain)", s.Format)
		}
		switch s.TimeFormat {
		case "rfc3339", "unix", "unix_ms":
		default:
			bad(sp+".time_format", "unknown time format %q (want rfc3339, unix or unix_ms)", s.TimeFormat)
		}
	}
	return errs
}

func (c *Config) validateOPCUA(i int) []error {
	var errs []error
	o := &c.OPCUA[i]
	p := fmt.Sprintf("opcua[%d]", i)
	bad := func(path, format string, args ...any) { errs = append(errs, loader.Errorf(path, format, args...)) }
	if !strings.HasPrefix(o.Endpoint, "opc.tcp://") || len(o.Endpoint) == len("opc.tcp://") {
		bad(p+".endpoint", "invalid endpoint %q (want opc.tcp://host:port)", o.Endpoint)
	}
	switch o.SecurityPolicy {
	case "None", "Basic256Sha256":
	default:
		bad(p+".security_policy", "unknown policy %q (want None or Basic256Sha256)", o.SecurityPolicy)
	}
	switch o.SecurityMode {
	case "None", "Sign", "SignAndEncrypt":
	default:
		bad(p+".security_mode", "unknown mode %q (want None, Sign or SignAndEncrypt)", o.SecurityMode)
	}
	if (o.SecurityPolicy == "None") != (o.SecurityMode == "None") {
		bad(p+".security_mode", "mode %q does not go with policy %q", o.SecurityMode, o.SecurityPolicy)
	}
	if o.SecurityPolicy != "None" && (o.Certificate == "" || o.PrivateKey == "") {
		bad(p+".certificate", "certificate and private_key are required with policy %s", o.SecurityPolicy)
	}
	if o.Password != "" && o.Username == "" {
		bad(p+".password", "set without username")
	}
	if o.PublishingInterval < 10*time.Millisecond {
		bad(p+".publishing_interval", "must be at least 10ms, got %s", o.PublishingInterval)
	}
	if o.SamplingInterval < 0 {
		bad(p+".sampling_interval", "must not be negative")
	}
	if len(o.Nodes) == 0 {
		bad(p+".nodes", "at least one node is required")
	}
	seen := map[string]int{}
	for j, n := range o.Nodes {
		np := fmt.Sprintf("%s.nodes[%d]", p, j)
		if id, err := ParseNodeID(n.NodeID); err != nil {
			bad(np+".node_id", "invalid NodeId %q", n.NodeID)
		} else if k, dup := seen[id.String()]; dup {
			bad(np+".node_id", "%q already mapped by nodes[%d]", n.NodeID, k)
		} else {
			seen[id.String()] = j
		}
		site := n.Site
		if site == "" {
			site = c.Site
		}
		if site == "" {
			bad(np+".site", "required (or set the top-level site)")
		} else if !signal.ValidToken(site) {
			bad(np+".site", "%q is not a valid name", site)
		}
		for _, f := range []struct{ key, v string }{{"line", n.Line}, {"equipment", n.Equipment}, {"signal", n.Signal}} {
			if f.v == "" {
				bad(np+"."+f.key, "required")
			} else if !signal.ValidToken(f.v) {
				bad(np+"."+f.key, "%q is not a valid name", f.v)
			}
		}
	}
	return errs
}

// ParseNodeID parses an OPC UA node id in its string form ("ns=2;s=a.b",
// "i=85"), stricter than ua.ParseNodeID: the identifier type must be one of
// i, s, g or b.
func ParseNodeID(s string) (*ua.NodeID, error) {
	rest := s
	if strings.HasPrefix(rest, "ns=") {
		i := strings.IndexByte(rest, ';')
		if i < 0 {
			return nil, fmt.Errorf("invalid NodeId %q", s)
		}
		rest = rest[i+1:]
	}
	if len(rest) < 3 || rest[1] != '=' || !strings.ContainsRune("isgb", rune(rest[0])) {
		return nil, fmt.Errorf("invalid NodeId %q", s)
	}
	id, err := ua.ParseNodeID(s)
	if err != nil {
		return nil, fmt.Errorf("invalid NodeId %q: %v", s, err)
	}
	return id, nil
}
