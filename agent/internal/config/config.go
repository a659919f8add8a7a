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
	"os"
	"strings"
	"time"

	"github.com/nats-io/nkeys"

	loader "github.com/floorpulse/floorpulse/pkg/config"
	"github.com/floorpulse/floorpulse/pkg/logging"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Config is the whole agent configuration.
type Config struct {
	// AgentID names the agent (required): in the MQTT client ids, the OPC UA
	// application URI and the NATS message ids. No spaces, dots, * or >.
	AgentID string `yaml:"agent_id"`
	// Site is the default site for mappings that do not name one.
	Site string `yaml:"site"`
	// DataDir holds the on-disk queue (queue.db) and the OPC UA client's
	// generated certificate and saved session.
	DataDir string `yaml:"data_dir"`
	// HTTP is the listen address (host:port) of /healthz, /readyz and
	// /metrics; "" disables them.
	HTTP string `yaml:"http"`
	// LogLevel is debug, info, warn or error; the -log-level flag of
	// `agent run` overrides it.
	LogLevel string `yaml:"log_level"`
	// NATS is the JetStream connection signals are forwarded over.
	NATS NATS `yaml:"nats"`
	// Buffer is the on-disk queue between the sources and the forwarder.
	Buffer Buffer `yaml:"buffer"`
	// MQTT lists the brokers to subscribe to; at least one mqtt or opcua
	// entry is required.
	MQTT []MQTT `yaml:"mqtt"`
	// OPCUA lists the OPC UA servers to read.
	OPCUA []OPCUA `yaml:"opcua"`
}

// NATS is the JetStream connection signals are forwarded over.
type NATS struct {
	// URL of the NATS server (nats://host:port, or tls://); the agent starts
	// and buffers while it is unreachable.
	URL string `yaml:"url"`
	// SubjectPrefix is the first part of the subjects signals are published
	// on (<prefix>.<site>.<line>.<equipment>.<signal>).
	SubjectPrefix string `yaml:"subject_prefix"`
	// Batch is the number of signals per forwarded batch (1 to 10000).
	Batch int `yaml:"batch"`
	// AckTimeout is how long to wait for a batch's acks before retrying it.
	AckTimeout time.Duration `yaml:"ack_timeout"`
	// User authenticates with a user name and password. At most one of
	// user/password, token, creds or nkey is set.
	User string `yaml:"user"`
	// Password goes with user. Also {file: PATH} or {env: NAME}.
	Password loader.Secret `yaml:"password"`
	// Token authenticates with a token. Also {file: PATH} or {env: NAME}.
	Token loader.Secret `yaml:"token"`
	// Creds is a credentials file (JWT and nkey seed).
	Creds string `yaml:"creds"`
	// NKey is a file holding an nkey user seed ("SU...").
	NKey string `yaml:"nkey"`
	// InboxPrefix is the prefix of the subjects the stream's acks come back
	// on (default _INBOX.<agent_id>). A hub's agent identity may subscribe
	// only below _INBOX.<its name>: set it when agent_id differs from that name.
	InboxPrefix string `yaml:"inbox_prefix"`
	// TLS secures the connection (the same section as an MQTT broker's):
	// ca verifies the server instead of the system roots; cert and key are
	// the client certificate for servers that verify clients. Set, it makes
	// TLS required even on a nats:// URL.
	TLS *TLS `yaml:"tls"`
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
		Buffer: Buffer{MaxBytes: 1 << 30, Policy: "drop_oldest", CommitMax: 1000, CommitLinger: 5 * time.Millisecond},
	}
}

// fillDefaults sets defaults inside list elements, which SetToDefault cannot
// reach. Only zero values are replaced.
func (c *Config) fillDefaults() {
	c.fillMQTTDefaults()
	c.fillOPCUADefaults()
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
	if _, err := logging.ParseLevel(c.LogLevel); err != nil {
		bad("log_level", "%v", err)
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
	if c.NATS.InboxPrefix == "" && signal.ValidToken(c.AgentID) {
		c.NATS.InboxPrefix = "_INBOX." + c.AgentID
	}
	if p := c.NATS.InboxPrefix; p != "" && (strings.ContainsAny(p, "*> \t") || strings.HasPrefix(p, ".") || strings.HasSuffix(p, ".") || strings.Contains(p, "..")) {
		bad("nats.inbox_prefix", "invalid subject prefix %q", p)
	}
	errs = append(errs, c.NATS.validateAuth()...)

	errs = append(errs, c.Buffer.validate()...)

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

// validateAuth checks the credentials and TLS files of the NATS section, so
// that `agent check` finds a missing or wrong file before the agent runs.
func (n *NATS) validateAuth() []error {
	var errs []error
	bad := func(path, format string, args ...any) { errs = append(errs, loader.Errorf(path, format, args...)) }
	var set []string
	for _, m := range []struct {
		key string
		on  bool
	}{{"nats.user", n.User != ""}, {"nats.token", n.Token.IsSet()}, {"nats.creds", n.Creds != ""}, {"nats.nkey", n.NKey != ""}} {
		if m.on {
			set = append(set, m.key)
		}
	}
	if len(set) > 1 {
		bad(set[1], "use only one of user/password, token, creds or nkey (%s is set too)", set[0])
	}
	if n.Password.IsSet() && n.User == "" {
		bad("nats.password", "set without nats.user")
	}
	if n.Creds != "" {
		if _, err := os.ReadFile(n.Creds); err != nil {
			bad("nats.creds", "%v", err)
		}
	}
	if n.NKey != "" {
		if err := checkNKeySeed(n.NKey); err != nil {
			bad("nats.nkey", "%v", err)
		}
	}
	if n.TLS != nil {
		for _, p := range n.TLS.check() {
			bad("nats.tls."+p.key, "%v", p.err)
		}
	}
	return errs
}

// checkNKeySeed reads an nkey user seed file the way the NATS client does.
func checkNKeySeed(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	kp, err := nkeys.ParseDecoratedNKey(data)
	if err != nil {
		return fmt.Errorf("no nkey seed in %s: %w", path, err)
	}
	defer kp.Wipe()
	if _, err := kp.Seed(); err != nil {
		return fmt.Errorf("%s holds a public key, not a seed", path)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return err
	}
	if !nkeys.IsValidPublicUserKey(pub) {
		return fmt.Errorf("%s is not a user seed (want one starting with SU)", path)
	}
	return nil
}
