package config

import pconfig "github.com/floorpulse/floorpulse/pkg/config"

// Runtime sets the Go runtime of the hub process. The GOGC and GOMEMLIMIT
// environment variables, when set, take precedence.
type Runtime struct {
	// GCPercent is how far the heap may grow past what is live before Go
	// collects it, in percent (GOGC; Go's own default is 100). Consuming a
	// backlog, 200 cost the hub about a fifth less CPU per signal than 100
	// for a heap up to three times what is live rather than twice; 400 a
	// little less CPU again for up to five times (docs/performance.md). The
	// GOGC environment variable, when set, wins.
	GCPercent int `yaml:"gc_percent"`
	// MemoryLimit is a soft limit on the Go heap and runtime (GOMEMLIMIT;
	// 0: none): near it Go collects more often whatever gc_percent says.
	// Set it below the memory the hub may use on a small machine. The
	// GOMEMLIMIT environment variable, when set, wins.
	MemoryLimit pconfig.Size `yaml:"memory_limit"`
}

func (r Runtime) validate(add func(string, string, ...any)) {
	if r.GCPercent < 25 || r.GCPercent > 10000 {
		add("runtime.gc_percent", "must be between 25 and 10000 (got %d)", r.GCPercent)
	}
	if r.MemoryLimit != 0 && r.MemoryLimit < 64<<20 {
		add("runtime.memory_limit", "must be 0 (none) or at least 64MiB (got %s)", r.MemoryLimit)
	}
}
