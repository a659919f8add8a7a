package config

import "time"

// Retention bounds what the hub keeps on its own disk. Figures are written
// to InfluxDB, the system of record for them; what is kept here is what
// they can still be restated from.
type Retention struct {
	// State is how long equipment timelines are kept in state.db (0: for
	// ever). At start and once a day the hub moves its restatement horizon
	// to the start of the plant-local month holding the instant State ago:
	// older signals are set aside, older periods no longer restated or
	// recomputed, and the timelines' data before the horizon less a day and
	// activity.idle_running_after is dropped. At least 31 days (the previous
	// month stays restatable) and at least state.max_lateness.
	State time.Duration `yaml:"state"`
	// Events is how long a resolved anomaly event is kept in events.db after
	// its last change (0: for ever). Open and acknowledged events are kept
	// however old. At least retention.state (0 when that is 0): an event
	// found again in a period that is still restated must still have its record.
	Events time.Duration `yaml:"events"`
	// DeadLetters is how long a dead letter is kept after it failed (0: for
	// ever). Outbox items are never deleted by retention: they are the
	// delivery guarantee.
	DeadLetters time.Duration `yaml:"dead_letters"`
}

// minStateRetention keeps the previous month restatable.
const minStateRetention = 31 * 24 * time.Hour

func (c *Config) validateRetention(add func(string, string, ...any)) {
	r := c.Retention
	switch {
	case r.State < 0:
		add("retention.state", "must not be negative")
	case r.State > 0 && r.State < minStateRetention:
		add("retention.state", "must be 0 (for ever) or at least 744h (31 days) (got %s)", r.State)
	case r.State > 0 && r.State < c.State.MaxLateness:
		add("retention.state", "must be at least state.max_lateness (%s)", c.State.MaxLateness)
	}
	switch {
	case r.Events < 0:
		add("retention.events", "must not be negative")
	case r.Events > 0 && (r.State == 0 || r.Events < r.State):
		add("retention.events", "must be at least retention.state (0 keeps them for ever, as retention.state 0 keeps the timelines)")
	}
	if r.DeadLetters < 0 {
		add("retention.dead_letters", "must not be negative")
	}
}
