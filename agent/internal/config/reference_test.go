package config

import (
	"flag"
	"path/filepath"
	"testing"

	loader "github.com/floorpulse/floorpulse/pkg/config"
)

var update = flag.Bool("update", false, "rewrite docs/config/agent.md from the config types")

// The committed configuration reference is what the config types and their
// field comments give, and every key has a description.
func TestConfigReference(t *testing.T) {
	const command = "go test ./agent/internal/config -run TestConfigReference -update"
	ref := loader.Reference{
		Title:   "Agent configuration",
		Intro:   "The configuration file of the edge agent (`agent run -config FILE`; `agent check -config FILE` validates a file): YAML, read strictly (an unknown key is an error), every problem reported at once as `file:line: key.path: message`. The log level is `log_level`; the `-log-level` flag overrides it.",
		Command: command,
		Root:    &Config{},
	}
	if err := ref.Check(filepath.Join("..", "..", "..", "docs", "config", "agent.md"), *update); err != nil {
		t.Error(err)
	}
}
