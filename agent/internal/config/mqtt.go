package config

import (
	"fmt"
	"net/url"
	"time"

	loader "github.com/floorpulse/floorpulse/pkg/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

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
