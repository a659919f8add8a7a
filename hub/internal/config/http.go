package config

import (
	"net"
	"path/filepath"
	"time"

	"gopkg.in/yaml.v3"

	pconfig "github.com/floorpulse/floorpulse/pkg/config"
)

// HTTP configures the hub's HTTP server: the dashboard, the JSON API,
// /healthz, /readyz and /metrics. Written as one value (`http:
// 127.0.0.1:8080`) it is the listen address, the rest left at defaults.
// Every route but /healthz, /readyz, /metrics and the login page needs a
// user's session, an API token or (to acknowledge one event) a signed
// acknowledge link; docs/security.md has the roles.
type HTTP struct {
	// Listen is the address (host:port) to listen on; "" disables HTTP.
	Listen string `yaml:"listen"`
	// TLS serves HTTPS with a certificate and key (PEM files); both or neither.
	TLS HTTPTLS `yaml:"tls"`
	// UsersFile holds the people who log in, with bcrypt password hashes
	// (written by `hub user add`; default data_dir/users.yaml).
	UsersFile string `yaml:"users_file"`
	// TokensFile holds the API tokens of integrations as SHA-256 hashes
	// (written by `hub token add`; default data_dir/tokens.yaml).
	TokensFile string `yaml:"tokens_file"`
	// SessionTTL is how long a login lasts (sessions are kept in memory: a
	// restart logs everyone out).
	SessionTTL time.Duration `yaml:"session_ttl"`
	// AckLinkTTL is how long the acknowledge link in a downtime alert works.
	AckLinkTTL time.Duration `yaml:"ack_link_ttl"`
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds writing a response.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds the size of a request's headers.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
}

// HTTPTLS names the certificate and key of the HTTPS server.
type HTTPTLS struct {
	// CertFile is the certificate chain (PEM).
	CertFile string `yaml:"cert_file"`
	// KeyFile is the private key (PEM).
	KeyFile string `yaml:"key_file"`
}

var _ pconfig.Shorthand = (*HTTP)(nil)

// YAMLShorthand says what `http: VALUE` sets.
func (*HTTP) YAMLShorthand() string { return "listen address (host:port)" }

// UnmarshalYAML reads the section, or its listen address alone.
func (h *HTTP) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&h.Listen)
	}
	type plain HTTP
	return n.Decode((*plain)(h))
}

func defaultHTTP() HTTP {
	return HTTP{Listen: "127.0.0.1:8080", SessionTTL: 12 * time.Hour, AckLinkTTL: 12 * time.Hour,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
}

// TLSOn reports whether the server speaks HTTPS.
func (h HTTP) TLSOn() bool { return h.TLS.CertFile != "" }

// Scheme is "https" with TLS, else "http".
func (h HTTP) Scheme() string {
	if h.TLSOn() {
		return "https"
	}
	return "http"
}

// Users is the users file (default data_dir/users.yaml).
func (c *Config) Users() string { return orIn(c.HTTP.UsersFile, c.DataDir, "users.yaml") }

// Tokens is the tokens file (default data_dir/tokens.yaml).
func (c *Config) Tokens() string { return orIn(c.HTTP.TokensFile, c.DataDir, "tokens.yaml") }

func orIn(path, dir, name string) string {
	if path != "" {
		return path
	}
	return filepath.Join(dir, name)
}

func (h HTTP) validate(add func(string, string, ...any)) {
	if h.Listen != "" {
		if _, _, err := net.SplitHostPort(h.Listen); err != nil {
			add("http.listen", "not host:port: %v", err)
		}
	}
	if (h.TLS.CertFile == "") != (h.TLS.KeyFile == "") {
		add("http.tls", "give both cert_file and key_file, or neither")
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"session_ttl", h.SessionTTL}, {"ack_link_ttl", h.AckLinkTTL}, {"read_header_timeout", h.ReadHeaderTimeout},
		{"read_timeout", h.ReadTimeout}, {"write_timeout", h.WriteTimeout}, {"idle_timeout", h.IdleTimeout}} {
		if d.v <= 0 {
			add("http."+d.key, "must be positive (got %s)", d.v)
		}
	}
	if h.MaxHeaderBytes < 4<<10 || h.MaxHeaderBytes > 1<<20 {
		add("http.max_header_bytes", "must be between 4096 and 1048576 (got %d)", h.MaxHeaderBytes)
	}
}
