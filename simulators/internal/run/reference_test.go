package run

import (
	"flag"
	"path/filepath"
	"strings"
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
	doc, undocumented, err := ref.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if len(undocumented) > 0 {
		t.Errorf("keys without a description (give their fields a doc comment): %s", strings.Join(undocumented, ", "))
	}
	path := filepath.Join("..", "..", "..", "docs", "config", "simulator.md")
	if err := config.CheckReference(path, doc, *update, command); err != nil {
		t.Error(err)
	}
}
