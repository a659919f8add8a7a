package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/gopcua/opcua/ua"

	loader "github.com/floorpulse/floorpulse/pkg/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

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

// fillOPCUADefaults sets defaults inside the opcua list. Only zero values are replaced.
func (c *Config) fillOPCUADefaults() {
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
