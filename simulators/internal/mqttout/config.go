package mqttout

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/floorpulse/floorpulse/pkg/config"
	"github.com/floorpulse/floorpulse/pkg/sparkplug"
)

// Config is the simulator's MQTT side (key "mqtt").
type Config struct {
	// Listen is the built-in broker's address, used when Broker is empty.
	Listen string `yaml:"listen"`
	// Broker is an external broker's URL (tcp://host:port); then no broker is built in.
	Broker string `yaml:"broker"`
	// TopicPrefix is the first level of the topics,
	// <topic_prefix>/<site>/<line>/<equipment>/<signal>.
	TopicPrefix string `yaml:"topic_prefix"`
	// QoS of the published messages: 0, 1 or 2.
	QoS byte `yaml:"qos"`
	// ClientID of the simulator's MQTT client.
	ClientID string `yaml:"client_id"`
	// Sparkplug publishes lines as Sparkplug B edge nodes instead of JSON
	// topics; the ground truth is the same.
	Sparkplug []SparkplugNode `yaml:"sparkplug"`
}

// SparkplugNode publishes one MQTT line as a Sparkplug B edge node, its
// machines as devices: spBv1.0/<group>/DDATA/<node>/<machine>.
type SparkplugNode struct {
	// Line published by the node (a line with source mqtt).
	Line string `yaml:"line"`
	// Group is the Sparkplug group id.
	Group string `yaml:"group"`
	// Node is the edge node id; default the line's name.
	Node string `yaml:"node"`
	// PrimaryHostID, when set, makes the node wait for that host
	// application's online STATE before its births and hold its data while
	// the STATE says offline (store and forward).
	PrimaryHostID string `yaml:"primary_host_id"`
	// Replay is, for tests, how many of its last states the node sends
	// again (historical) when it births after an offline STATE: what was in
	// flight when the host died. 0 (default) does what the specification
	// says, nothing more.
	Replay int `yaml:"replay"`
}

// SetToDefault fills the defaults.
func (c *Config) SetToDefault() {
	*c = Config{Listen: "127.0.0.1:1883", TopicPrefix: "floorpulse", QoS: 1, ClientID: "floorpulse-simulator"}
}

// Validate returns every problem, the keys prefixed with prefix (e.g. "mqtt").
func (c *Config) Validate(prefix string) error {
	var errs []error
	if c.Broker == "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			errs = append(errs, config.Errorf(prefix+".listen", "invalid address %q: %v", c.Listen, err))
		}
	} else if u, err := url.Parse(c.Broker); err != nil || u.Host == "" || (u.Scheme != "tcp" && u.Scheme != "mqtt" && u.Scheme != "ssl" && u.Scheme != "tls") {
		errs = append(errs, config.Errorf(prefix+".broker", "invalid broker URL %q, want tcp://host:port", c.Broker))
	}
	if c.TopicPrefix == "" || strings.ContainsAny(c.TopicPrefix, "+#") {
		errs = append(errs, config.Errorf(prefix+".topic_prefix", "must be non-empty and without wildcards, got %q", c.TopicPrefix))
	}
	if c.QoS > 2 {
		errs = append(errs, config.Errorf(prefix+".qos", "must be 0, 1 or 2, got %d", c.QoS))
	}
	if c.ClientID == "" {
		errs = append(errs, config.Errorf(prefix+".client_id", "is required"))
	}
	for i := range c.Sparkplug {
		n := &c.Sparkplug[i]
		p := fmt.Sprintf("%s.sparkplug[%d]", prefix, i)
		if n.Node == "" {
			n.Node = n.Line
		}
		for _, f := range []struct{ key, v string }{{"line", n.Line}, {"group", n.Group}, {"node", n.Node}} {
			if !sparkplug.ValidHostID(f.v) {
				errs = append(errs, config.Errorf(p+"."+f.key, "must be a non-empty topic level without /, + or #, got %q", f.v))
			}
		}
		if n.PrimaryHostID != "" && !sparkplug.ValidHostID(n.PrimaryHostID) {
			errs = append(errs, config.Errorf(p+".primary_host_id", "must be a topic level without /, + or #, got %q", n.PrimaryHostID))
		}
		if n.Replay < 0 || n.Replay > 10000 {
			errs = append(errs, config.Errorf(p+".replay", "must be 0..10000, got %d", n.Replay))
		}
	}
	return errors.Join(errs...)
}

// Topic is the topic of one signal: prefix/site/line/equipment/signal.
func Topic(prefix, site, line, equipment, name string) string {
	return prefix + "/" + site + "/" + line + "/" + equipment + "/" + name
}

// Matches reports whether the MQTT topic filter (with + and #, optionally a
// shared subscription $share/group/filter) matches topic.
func Matches(filter, topic string) bool {
	if strings.HasPrefix(filter, "$share/") {
		parts := strings.SplitN(filter, "/", 3)
		if len(parts) < 3 {
			return false
		}
		filter = parts[2]
	}
	f := strings.Split(filter, "/")
	t := strings.Split(topic, "/")
	for i, p := range f {
		if p == "#" {
			return true
		}
		if i >= len(t) || (p != "+" && p != t[i]) {
			return false
		}
	}
	return len(f) == len(t)
}
