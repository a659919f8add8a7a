package config

// Events configures anomaly events: detectors, the events stream, webhooks,
// the alert roster and escalation.
type Events struct {
	Detectors Detectors `yaml:"detectors"`
}

// validateEvents checks the events section.
func (c *Config) validateEvents(add func(string, string, ...any)) {
	c.Events.Detectors.Validate("events.detectors.", add)
}
