package config

import (
	"strings"
	"testing"
)

func TestRuntime(t *testing.T) {
	for _, c := range []struct {
		name, yaml, err string
		want            Runtime
	}{
		{"defaults", "", "", Runtime{GCPercent: 200}},
		{"set", "runtime: {gc_percent: 100, memory_limit: 1GiB}\n", "", Runtime{GCPercent: 100, MemoryLimit: 1 << 30}},
		{"gc off", "runtime: {gc_percent: -1}\n", "hub.yaml:2: runtime.gc_percent: must be between 25 and 10000 (got -1)", Runtime{}},
		{"tiny limit", "runtime: {memory_limit: 1MiB}\n", "runtime.memory_limit: must be 0 (none) or at least 64MiB (got 1MiB)", Runtime{}},
		{"unknown key", "runtime: {gogc: 100}\n", "gogc", Runtime{}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Decode("hub.yaml", []byte("site: s1\n"+c.yaml))
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Runtime != c.want {
					t.Fatalf("runtime %+v, want %+v", cfg.Runtime, c.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err = %v, want it to contain %q", err, c.err)
			}
		})
	}
}
