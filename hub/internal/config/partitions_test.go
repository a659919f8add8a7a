package config

import (
	"strings"
	"testing"
)

func TestPartitions(t *testing.T) {
	base := "site: s1\n"
	for _, c := range []struct {
		name, yaml, err string
	}{
		{"default is one partition", "", ""},
		{"several", "partitions: {count: 8, lease_ttl: 5s, hub_id: hub-a_1, snapshot_interval: 10s}\n", ""},
		{"count zero", "partitions: {count: 0}\n", "partitions.count: must be between 1 and 1024 (got 0)"},
		{"count too big", "partitions: {count: 5000}\n", "partitions.count"},
		{"ttl too short", "partitions: {count: 4, lease_ttl: 100ms}\n", "partitions.lease_ttl: must be between 1s and 10m"},
		{"bad hub id", "partitions: {count: 4, hub_id: \"a.b\"}\n", `partitions.hub_id: letters, digits, '-' and '_' only, at most 64 (got "a.b")`},
		{"snapshot interval", "partitions: {count: 4, snapshot_interval: 0s}\n", "partitions.snapshot_interval: must be at least 1s"},
		{"unknown key", "partitions: {count: 4, owner: x}\n", "owner"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Decode("hub.yaml", []byte(base+c.yaml))
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.yaml == "" && (cfg.Partitions.Count != 1 || cfg.Partitions.LeaseTTL.String() != "10s" || cfg.Partitions.SnapshotInterval.String() != "30s") {
					t.Fatalf("defaults: %+v", cfg.Partitions)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("err = %v, want it to contain %q", err, c.err)
			}
		})
	}
}
