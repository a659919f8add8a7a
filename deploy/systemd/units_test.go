// Package systemd holds the service units of agent and hub; this test
// checks them with systemd's own tools.
package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// maxExposure is the highest exposure level systemd-analyze security may
// give a unit (0 is fully locked down, 10 is not at all; "OK" is below 4.5).
const maxExposure = 2.0

// Each unit passes systemd-analyze verify (directives known, commands
// executable) and its security analysis stays at or below maxExposure.
func TestUnits(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not found: install systemd to check the units")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	for name, pkg := range map[string]string{"floorpulse-hub": "./hub/cmd/hub", "floorpulse-agent": "./agent/cmd/agent"} {
		build := exec.Command("go", "build", "-o", filepath.Join(bin, name), pkg)
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", name, err, out)
		}
	}
	exposure := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)
	for _, unit := range []string{"floorpulse-hub.service", "floorpulse-agent.service"} {
		t.Run(unit, func(t *testing.T) {
			text, err := os.ReadFile(unit)
			if err != nil {
				t.Fatal(err)
			}
			// The units name the installed binaries; point them at the ones just built.
			local := filepath.Join(t.TempDir(), unit)
			if err := os.WriteFile(local, []byte(strings.ReplaceAll(string(text), "/usr/local/bin/", bin+"/")), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(analyze, "verify", local).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
				t.Errorf("systemd-analyze verify: %v\n%s", err, out)
			}
			out, err := exec.Command(analyze, "security", "--offline=yes", "--no-pager", local).CombinedOutput()
			m := exposure.FindSubmatch(out)
			if m == nil {
				t.Fatalf("systemd-analyze security: %v\n%s", err, out)
			}
			level, _ := strconv.ParseFloat(string(m[1]), 64)
			t.Logf("exposure level %.1f", level)
			if level > maxExposure {
				t.Errorf("exposure level %.1f above %.1f:\n%s", level, maxExposure, out)
			}
		})
	}
}
