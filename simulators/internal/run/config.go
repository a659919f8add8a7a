package run

import (
	"errors"
	"fmt"
	"time"

	"github.com/floorpulse/floorpulse/pkg/config"
	"github.com/floorpulse/floorpulse/pkg/logging"
	"github.com/floorpulse/floorpulse/simulators/internal/mqttout"
	"github.com/floorpulse/floorpulse/simulators/internal/opcuasrv"
	"github.com/floorpulse/floorpulse/simulators/internal/plant"
)

// Config is the simulator's configuration file (configs/simulator.yaml).
type Config struct {
	plant.Config `yaml:",inline"`

	// History is how much history before now is generated and published fast.
	History time.Duration `yaml:"history"`
	// Live is how long the simulation then runs in real time; 0 = until interrupted.
	Live time.Duration `yaml:"live"`
	// LogLevel is debug, info, warn or error; the -log-level flag of
	// `simulator run` overrides it.
	LogLevel string `yaml:"log_level"`
	// MQTT is the MQTT side: a built-in broker or an external one.
	MQTT mqttout.Config `yaml:"mqtt"`
	// OPCUA is the OPC UA server of the OPC UA lines.
	OPCUA opcuasrv.Config `yaml:"opcua"`
}

// SetToDefault fills every default.
func (c *Config) SetToDefault() {
	c.Config.SetToDefault()
	c.History, c.Live = 0, 0
	c.LogLevel = "info"
	c.MQTT.SetToDefault()
	c.OPCUA.SetToDefault()
}

// Validate returns every problem, each naming its key.
func (c *Config) Validate() error {
	errs := []error{c.Config.Validate(), c.MQTT.Validate("mqtt"), c.OPCUA.Validate("opcua")}
	if c.History < 0 {
		errs = append(errs, config.Errorf("history", "must not be negative, got %s", c.History))
	}
	if c.Live < 0 {
		errs = append(errs, config.Errorf("live", "must not be negative, got %s", c.Live))
	}
	lines := map[string]string{}
	for _, l := range c.Lines {
		lines[l.Name] = l.Source
	}
	seen := map[string]bool{}
	for i, n := range c.MQTT.Sparkplug {
		key := fmt.Sprintf("mqtt.sparkplug[%d].line", i)
		switch src, ok := lines[n.Line]; {
		case !ok:
			errs = append(errs, config.Errorf(key, "no line %q", n.Line))
		case src != plant.SourceMQTT:
			errs = append(errs, config.Errorf(key, "line %q has source %s; only mqtt lines can be sparkplug edge nodes", n.Line, src))
		case seen[n.Line]:
			errs = append(errs, config.Errorf(key, "line %q is published by an earlier edge node", n.Line))
		}
		seen[n.Line] = true
	}
	if _, err := logging.ParseLevel(c.LogLevel); err != nil {
		errs = append(errs, config.Errorf("log_level", "%v", err))
	}
	return errors.Join(errs...)
}

// Load reads and validates a configuration file.
func Load(path string) (Config, error) {
	var c Config
	err := config.Load(path, &c)
	return c, err
}
