package app

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/floorpulse/floorpulse/hub/internal/config"
)

// The configuration sets the garbage collection and the memory limit, and
// GOGC and GOMEMLIMIT in the environment win over it.
func TestApplyRuntime(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	applyRuntime(config.Runtime{GCPercent: 321, MemoryLimit: 1 << 30})
	if gc, lim := debug.SetGCPercent(100), debug.SetMemoryLimit(math.MaxInt64); gc != 321 || lim != 1<<30 {
		t.Fatalf("gc percent %d, limit %d", gc, lim)
	}
	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "2GiB")
	applyRuntime(config.Runtime{GCPercent: 321, MemoryLimit: 1 << 30})
	if gc, lim := debug.SetGCPercent(100), debug.SetMemoryLimit(-1); gc != 100 || lim != math.MaxInt64 {
		t.Fatalf("the environment's settings were replaced: gc percent %d, limit %d", gc, lim)
	}
}
