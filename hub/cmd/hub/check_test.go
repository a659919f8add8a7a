package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hub check reads what the hub reads at start: the configuration, the
// agents' identities, the users and the tokens; a broken file is named
// with the line and key, and fails the check.
func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "hub.yaml")
	data := filepath.Join(dir, "hub")
	if err := os.WriteFile(cfgPath, []byte("site: plant1\ndata_dir: "+data+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func() (int, string) {
		var out bytes.Buffer
		code := checkMain(cfgPath, &out, &out)
		return code, out.String()
	}
	var out bytes.Buffer
	if code := agentMain([]string{"add", "gw1", "-site", "plant1", "-seed", filepath.Join(dir, "gw1.nk"), "-config", cfgPath}, &out, &out); code != 0 {
		t.Fatalf("agent add: %s", out.String())
	}
	if code, out := check(); code != 0 || !strings.Contains(out, "config ok (1 agent identities") {
		t.Fatalf("sound files: %d %s", code, out)
	}

	agents := filepath.Join(data, "agents.yaml")
	good, err := os.ReadFile(agents)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(good), "nkey: U", "nkey: X", 1)
	if err := os.WriteFile(agents, []byte(broken), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := check(); code != 1 || !strings.Contains(out, "agents.yaml") || !strings.Contains(out, "agents[0].nkey") {
		t.Fatalf("a bad nkey in the agents file: %d %s", code, out)
	}
	if err := os.WriteFile(agents, good, 0o600); err != nil {
		t.Fatal(err)
	}

	if err := os.WriteFile(filepath.Join(data, "users.yaml"), []byte("users:\n  - {name: alice, role: boss}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := check(); code != 1 || !strings.Contains(out, "users.yaml") {
		t.Fatalf("a bad users file: %d %s", code, out)
	}
}
