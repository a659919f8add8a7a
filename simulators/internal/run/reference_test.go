package run

import (
	"flag"
	"path/filepath"
	"testing"

	"github.com/floorpulse/floorpulse/pkg/config"
)

var update = flag.Bool("update", false, "rewrite docs/config/simulator.md from the config types")

// The committed configuration reference is what the config types and their
// field comments give, and every key has a description.
func TestConfigReference(t *testing.T) {
	const command = "go test ./simulators/internal/run -run TestConfigReference -update"
	ref := config.Reference{
		Title:   "Simulator configuration",
		Intro:   "The configuration file of the plant simulator (`simulator run -config FILE`): YAML, read strictly (an unknown key is an error), every problem reported at once as `file:line: key.path: message`. The log level is `log_level`; the `-log-level` flag overrides it.",
		Command: command,
		Root:    &Config{},
	}
	if err := ref.Check(filepath.Join("..", "..", "..", "docs", "config", "simulator.md"), *update); err != nil {
		t.Error(err)
	}
}
