package config

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	pconfig "github.com/floorpulse/floorpulse/pkg/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

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
	MaxBytes pconfig.Size `yaml:"max_bytes"`
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
