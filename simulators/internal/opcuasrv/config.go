package opcuasrv

import (
	"errors"
	"time"

	"github.com/floorpulse/floorpulse/pkg/config"
)

// Config is the OPC UA side (key "opcua").
type Config struct {
	// Host is the address the OPC UA server listens on.
	Host string `yaml:"host"`
	// Port the OPC UA server listens on (endpoint opc.tcp://<host>:<port>).
	Port int `yaml:"port"`
	// WaitForClient holds the live phase until a client monitors some item,
	// so that no live change happens unseen (a client's first session starts
	// from the current values; the server's history serves its reconnects).
	WaitForClient bool `yaml:"wait_for_client"`
	// MinChangeGap is the least wall time between two changes of one node.
	// The server reports a node's latest value once per publishing interval,
	// so two changes closer than that reach a client as one; when the
	// simulator catches up on events that are due already, it spaces them.
	MinChangeGap time.Duration `yaml:"min_change_gap"`
}

// SetToDefault fills the defaults.
func (c *Config) SetToDefault() {
	*c = Config{Host: "127.0.0.1", Port: 4840, WaitForClient: true, MinChangeGap: 250 * time.Millisecond}
}

// Validate returns every problem, keys prefixed with prefix.
func (c *Config) Validate(prefix string) error {
	var errs []error
	if c.Host == "" {
		errs = append(errs, config.Errorf(prefix+".host", "is required"))
	}
	if c.MinChangeGap < 0 {
		errs = append(errs, config.Errorf(prefix+".min_change_gap", "must not be negative"))
	}
	if c.Port < 1 || c.Port > 65535 {
		errs = append(errs, config.Errorf(prefix+".port", "must be between 1 and 65535, got %d", c.Port))
	}
	return errors.Join(errs...)
}
