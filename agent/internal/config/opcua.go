package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gopcua/opcua/ua"

	loader "github.com/floorpulse/floorpulse/pkg/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// OPC UA modes of reading values.
const (
	ModeSubscribe = "subscribe" // a subscription with one monitored item per node
	ModePoll      = "poll"      // a Read of every node each poll_interval
)

// Deadband types of a DataChangeFilter.
const (
	DeadbandAbsolute = "absolute"
	DeadbandPercent  = "percent"
)

// SecurityPolicies are the OPC UA security policies the agent speaks, by
// their names in the policy URIs.
var SecurityPolicies = []string{"None", "Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"}

// MaxBackfill bounds opcua[].backfill.
const MaxBackfill = 7 * 24 * time.Hour

// Bounds of opcua[].session_timeout, and its default.
const (
	MinSessionTimeout     = 10 * time.Second
	MaxSessionTimeout     = time.Hour
	DefaultSessionTimeout = time.Minute
)

// OPCUA is one OPC UA server connection.
type OPCUA struct {
	// Endpoint is the server's URL, opc.tcp://host:port.
	Endpoint string `yaml:"endpoint"`
	// SecurityPolicy is None (default), Basic256Sha256,
	// Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss.
	SecurityPolicy string `yaml:"security_policy"`
	// SecurityMode is None, Sign or SignAndEncrypt; default None with policy
	// None, else SignAndEncrypt.
	SecurityMode string `yaml:"security_mode"`
	// Certificate is the client's certificate file (PEM or DER); when it and
	// private_key are both empty a self-signed pair is made once and kept
	// in data_dir/opcua/.
	Certificate string `yaml:"certificate"`
	// PrivateKey is the client's RSA key file (PEM or DER), set with certificate.
	PrivateKey string `yaml:"private_key"`
	// TrustDir holds the trusted server certificates (DER or PEM files).
	// It or server_thumbprint is required whenever a secured policy or a
	// password is used.
	TrustDir string `yaml:"trust_dir"`
	// ServerThumbprint pins the server certificate by its SHA-1 thumbprint
	// in hex (separators allowed).
	ServerThumbprint string `yaml:"server_thumbprint"`
	// Username logs in with a user name; default anonymous.
	Username string `yaml:"username"`
	// Password goes with username. Also {file: PATH} or {env: NAME}.
	Password loader.Secret `yaml:"password"`

	// Mode is subscribe (default: a subscription with one monitored item
	// per node) or poll (a Read of every node each poll_interval).
	Mode string `yaml:"mode"`
	// PollInterval is the time between reads in mode poll (at least 10ms;
	// default 1s).
	PollInterval time.Duration `yaml:"poll_interval"`
	// PublishingInterval of the subscription in mode subscribe (at least
	// 10ms; default 100ms).
	PublishingInterval time.Duration `yaml:"publishing_interval"`
	// SamplingInterval per monitored item, unless the node sets one; 0
	// lets the server choose.
	SamplingInterval time.Duration `yaml:"sampling_interval"`
	// QueueSize per monitored item, on the server (default 100).
	QueueSize uint32 `yaml:"queue_size"`
	// Deadband per monitored item, unless the node sets one; none by default.
	Deadband *Deadband `yaml:"deadband"`
	// MaxItemsPerCall bounds the monitored items (and nodes read or
	// translated) per request; 0 takes the server's OperationLimits, else 1000.
	MaxItemsPerCall int `yaml:"max_items_per_call"`
	// Backfill, when set, reads the server's history (HistoryRead of raw
	// values) after a reconnect: what each node took while the agent was
	// disconnected, since its last value, at most this far back (up to 168h;
	// 0, the default, turns it off).
	Backfill time.Duration `yaml:"backfill"`
	// SessionTimeout is the session timeout asked of the server: how long
	// it keeps the session, and its subscription and queued values, while
	// the agent is disconnected or down.
	// (10s to 1h; default 1m.)
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// Nodes are the variables read, each mapped to a signal; at least one.
	Nodes []Node `yaml:"nodes"`

	// DataDir and ApplicationURI are not read from the file: validation
	// copies them from data_dir and agent_id.
	DataDir        string `yaml:"-"`
	ApplicationURI string `yaml:"-"`
}

// Node maps one OPC UA variable to a signal. It names the variable by
// NodeId or by a browse path from the Root folder ("Objects/2:Line1/2:Run",
// each element "<namespace index>:<browse name>", index 0 when left out,
// "/" and "\" escaped with "\"), resolved after every connect.
type Node struct {
	// NodeID names the variable by NodeId ("ns=2;s=Line1.M01.Run", "i=85").
	// Set node_id or browse_path.
	NodeID string `yaml:"node_id"`
	// BrowsePath names the variable by its path from the Root folder
	// ("Objects/2:Line1/2:Run", each element "<namespace index>:<browse
	// name>", index 0 when left out, "/" and "\" escaped with "\"),
	// resolved after every connect.
	BrowsePath string `yaml:"browse_path"`
	// Site of the signal; default the top-level site.
	Site string `yaml:"site"`
	// Line of the signal (required).
	Line string `yaml:"line"`
	// Equipment of the signal (required).
	Equipment string `yaml:"equipment"`
	// Signal is the signal's name (required), e.g. run, state, count.
	Signal string `yaml:"signal"`
	// SamplingInterval of this node's monitored item; 0 = the server section's.
	SamplingInterval time.Duration `yaml:"sampling_interval"`
	// QueueSize of this node's monitored item; 0 = the server section's.
	QueueSize uint32 `yaml:"queue_size"`
	// Deadband of this node's monitored item; absent = the server section's.
	Deadband *Deadband `yaml:"deadband"`
}

// Deadband is the DataChangeFilter of a monitored item: a change smaller
// than Value (absolute), or than Value percent of the variable's EURange
// (percent), is not reported.
type Deadband struct {
	// Type is absolute or percent (of the variable's EURange; needs mode
	// subscribe).
	Type string `yaml:"type"`
	// Value is the smallest change reported, in the variable's unit
	// (absolute) or in percent (at most 100).
	Value float64 `yaml:"value"`
}

// Settings are the effective monitoring settings of node j.
func (o *OPCUA) Settings(j int) (sampling time.Duration, queue uint32, deadband *Deadband) {
	n := o.Nodes[j]
	sampling, queue, deadband = o.SamplingInterval, o.QueueSize, o.Deadband
	if n.SamplingInterval != 0 {
		sampling = n.SamplingInterval
	}
	if n.QueueSize != 0 {
		queue = n.QueueSize
	}
	if n.Deadband != nil {
		deadband = n.Deadband
	}
	return sampling, queue, deadband
}

// Secured reports whether the connection signs or encrypts.
func (o *OPCUA) Secured() bool { return o.SecurityPolicy != "None" }

// PrepareOPCUA fills the defaults of one server section and validates it as
// Load would inside a file with the given agent_id, site and data_dir (for
// tools and tests that build a section without a file).
func PrepareOPCUA(o OPCUA, agentID, site, dataDir string) (OPCUA, error) {
	c := Config{AgentID: agentID, Site: site, DataDir: dataDir, OPCUA: []OPCUA{o}}
	c.fillOPCUADefaults()
	if errs := c.validateOPCUA(0); len(errs) > 0 {
		return c.OPCUA[0], errors.Join(errs...)
	}
	return c.OPCUA[0], nil
}

// fillOPCUADefaults sets defaults inside the opcua list. Only zero values are replaced.
func (c *Config) fillOPCUADefaults() {
	for i := range c.OPCUA {
		o := &c.OPCUA[i]
		if o.SecurityPolicy == "" {
			o.SecurityPolicy = "None"
		}
		if o.SecurityMode == "" {
			o.SecurityMode = "None"
			if o.SecurityPolicy != "None" {
				o.SecurityMode = "SignAndEncrypt"
			}
		}
		if o.Mode == "" {
			o.Mode = ModeSubscribe
		}
		if o.PublishingInterval == 0 {
			o.PublishingInterval = 100 * time.Millisecond
		}
		if o.PollInterval == 0 {
			o.PollInterval = time.Second
		}
		if o.QueueSize == 0 {
			o.QueueSize = 100
		}
		if o.SessionTimeout == 0 {
			o.SessionTimeout = DefaultSessionTimeout
		}
		o.DataDir = c.DataDir
		o.ApplicationURI = "urn:floorpulse:agent:" + c.AgentID
	}
}

func (c *Config) validateOPCUA(i int) []error {
	var errs []error
	o := &c.OPCUA[i]
	p := fmt.Sprintf("opcua[%d]", i)
	bad := func(path, format string, args ...any) { errs = append(errs, loader.Errorf(path, format, args...)) }
	if !strings.HasPrefix(o.Endpoint, "opc.tcp://") || len(o.Endpoint) == len("opc.tcp://") {
		bad(p+".endpoint", "invalid endpoint %q (want opc.tcp://host:port)", o.Endpoint)
	}
	if !contains(SecurityPolicies, o.SecurityPolicy) {
		bad(p+".security_policy", "unknown policy %q (want one of %s)", o.SecurityPolicy, strings.Join(SecurityPolicies, ", "))
	}
	switch o.SecurityMode {
	case "None", "Sign", "SignAndEncrypt":
	default:
		bad(p+".security_mode", "unknown mode %q (want None, Sign or SignAndEncrypt)", o.SecurityMode)
	}
	if (o.SecurityPolicy == "None") != (o.SecurityMode == "None") {
		bad(p+".security_mode", "mode %q does not go with policy %q", o.SecurityMode, o.SecurityPolicy)
	}
	if (o.Certificate == "") != (o.PrivateKey == "") {
		bad(p+".certificate", "certificate and private_key go together (leave both empty for a generated pair)")
	}
	if o.ServerThumbprint != "" {
		if b, err := hex.DecodeString(normalThumbprint(o.ServerThumbprint)); err != nil || len(b) != 20 {
			bad(p+".server_thumbprint", "%q is not a SHA-1 thumbprint (40 hex digits)", o.ServerThumbprint)
		}
	}
	if (o.Secured() || o.Username != "") && o.TrustDir == "" && o.ServerThumbprint == "" {
		bad(p+".trust_dir", "trust_dir or server_thumbprint is required with policy %s or a username: the server certificate must be trusted explicitly", o.SecurityPolicy)
	}
	if o.Password.IsSet() && o.Username == "" {
		bad(p+".password", "set without username")
	}
	switch o.Mode {
	case ModeSubscribe:
		if o.PublishingInterval < 10*time.Millisecond {
			bad(p+".publishing_interval", "must be at least 10ms, got %s", o.PublishingInterval)
		}
	case ModePoll:
		if o.PollInterval < 10*time.Millisecond {
			bad(p+".poll_interval", "must be at least 10ms, got %s", o.PollInterval)
		}
	default:
		bad(p+".mode", "unknown mode %q (want subscribe or poll)", o.Mode)
	}
	if o.SamplingInterval < 0 {
		bad(p+".sampling_interval", "must not be negative")
	}
	if o.MaxItemsPerCall < 0 {
		bad(p+".max_items_per_call", "must not be negative")
	}
	if o.Backfill < 0 || o.Backfill > MaxBackfill {
		bad(p+".backfill", "must be between 0 (off) and %s, got %s", MaxBackfill, o.Backfill)
	}
	if o.SessionTimeout < MinSessionTimeout || o.SessionTimeout > MaxSessionTimeout {
		bad(p+".session_timeout", "must be between %s and %s, got %s", MinSessionTimeout, MaxSessionTimeout, o.SessionTimeout)
	}
	errs = append(errs, o.Deadband.validate(p+".deadband", o.Mode)...)
	if len(o.Nodes) == 0 {
		bad(p+".nodes", "at least one node is required")
	}
	seen := map[string]int{}
	for j, n := range o.Nodes {
		np := fmt.Sprintf("%s.nodes[%d]", p, j)
		key, keyName := "", "node_id"
		switch {
		case n.NodeID != "" && n.BrowsePath != "":
			bad(np+".node_id", "set node_id or browse_path, not both")
		case n.NodeID != "":
			if id, err := ParseNodeID(n.NodeID); err != nil {
				bad(np+".node_id", "invalid NodeId %q", n.NodeID)
			} else {
				key = id.String()
			}
		case n.BrowsePath != "":
			if bp, err := ParseBrowsePath(n.BrowsePath); err != nil {
				bad(np+".browse_path", "%v", err)
			} else {
				key, keyName = "path:"+bp.String(), "browse_path"
			}
		default:
			bad(np+".node_id", "node_id or browse_path is required")
		}
		if k, dup := seen[key]; dup && key != "" {
			bad(np+"."+keyName, "%q already mapped by nodes[%d]", n.NodeID+n.BrowsePath, k)
		} else if key != "" {
			seen[key] = j
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
		if n.SamplingInterval < 0 {
			bad(np+".sampling_interval", "must not be negative")
		}
		errs = append(errs, n.Deadband.validate(np+".deadband", o.Mode)...)
	}
	return errs
}

func (d *Deadband) validate(path, mode string) []error {
	if d == nil {
		return nil
	}
	var errs []error
	switch d.Type {
	case DeadbandAbsolute:
	case DeadbandPercent:
		if d.Value > 100 {
			errs = append(errs, loader.Errorf(path+".value", "a percent deadband must be at most 100, got %g", d.Value))
		}
		if mode == ModePoll {
			errs = append(errs, loader.Errorf(path+".type", "a percent deadband needs a subscription (the server applies it): use absolute with mode poll"))
		}
	default:
		errs = append(errs, loader.Errorf(path+".type", "unknown deadband type %q (want absolute or percent)", d.Type))
	}
	if d.Value < 0 {
		errs = append(errs, loader.Errorf(path+".value", "must not be negative, got %g", d.Value))
	}
	return errs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// normalThumbprint strips separators from a hex thumbprint and lowercases it.
func normalThumbprint(s string) string {
	return strings.ToLower(strings.NewReplacer(":", "", " ", "", "-", "").Replace(s))
}

// NormalThumbprint is the canonical form of a thumbprint: lowercase hex
// without separators.
func NormalThumbprint(s string) string { return normalThumbprint(s) }

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

// BrowsePath is a parsed browse path: browse names followed from the Root
// folder along hierarchical references.
type BrowsePath []*ua.QualifiedName

// String formats the path as ParseBrowsePath reads it.
func (bp BrowsePath) String() string {
	esc := strings.NewReplacer(`\`, `\\`, `/`, `\/`)
	parts := make([]string, len(bp))
	for i, q := range bp {
		name := esc.Replace(q.Name)
		if q.NamespaceIndex != 0 || strings.Contains(q.Name, ":") {
			name = strconv.Itoa(int(q.NamespaceIndex)) + ":" + name
		}
		parts[i] = name
	}
	return strings.Join(parts, "/")
}

// ParseBrowsePath parses "Objects/2:Line1/2:M01/2:Run".
func ParseBrowsePath(s string) (BrowsePath, error) {
	if s == "" {
		return nil, fmt.Errorf("empty browse path")
	}
	var (
		bp  BrowsePath
		cur strings.Builder
	)
	flush := func() error {
		el := cur.String()
		cur.Reset()
		if el == "" {
			return fmt.Errorf("browse path %q has an empty element", s)
		}
		q := &ua.QualifiedName{Name: el}
		if i := strings.IndexByte(el, ':'); i > 0 {
			if ns, err := strconv.ParseUint(el[:i], 10, 16); err == nil {
				q = &ua.QualifiedName{NamespaceIndex: uint16(ns), Name: el[i+1:]}
			}
		}
		if q.Name == "" {
			return fmt.Errorf("browse path %q has an element without a name", s)
		}
		bp = append(bp, q)
		return nil
	}
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; ch {
		case '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("browse path %q ends in an escape", s)
			}
			i++
			cur.WriteByte(s[i])
		case '/':
			if err := flush(); err != nil {
				return nil, err
			}
		default:
			cur.WriteByte(ch)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return bp, nil
}
