package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"

	"github.com/floorpulse/floorpulse/hub/internal/broker"
)

// hub agent add writes a seed only the owner can read and records the
// public key and sites; list shows it; a second add of the name and a
// remove of an unknown name fail; remove takes it out.
func TestAgentCommand(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "hub.yaml")
	if err := os.WriteFile(cfgPath, []byte("site: plant1\ndata_dir: "+filepath.Join(dir, "hub")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := agentMain(append(args, "-config", cfgPath), &out, &out)
		return code, out.String()
	}
	seed := filepath.Join(dir, "gw1.nk")
	if code, out := run("add", "gw1", "--site", "plant1", "-site", "plant2", "-seed", seed); code != 0 {
		t.Fatalf("add: %d %s", code, out)
	}
	fi, err := os.Stat(seed)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("seed mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(seed)
	kp, err := nkeys.ParseDecoratedNKey(data)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	a, err := broker.LoadAgents(filepath.Join(dir, "hub", "agents.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if ag, ok := a.Find("gw1"); !ok || ag.NKey != pub || strings.Join(ag.Sites, ",") != "plant1,plant2" {
		t.Fatalf("agents file holds %+v, want gw1 with key %s", a.Agents, pub)
	}
	if code, out := run("list"); code != 0 || !strings.Contains(out, "gw1") || !strings.Contains(out, pub) {
		t.Fatalf("list: %d %s", code, out)
	}
	if code, out := run("add", "gw1", "-site", "plant1", "-seed", filepath.Join(dir, "other.nk")); code != 1 || !strings.Contains(out, "exists") {
		t.Fatalf("second add: %d %s", code, out)
	}
	if code, out := run("add", "gw2", "-seed", filepath.Join(dir, "gw2.nk")); code != 1 || !strings.Contains(out, "-site") {
		t.Fatalf("add without a site: %d %s", code, out)
	}
	if code, out := run("remove", "gw9"); code != 1 {
		t.Fatalf("remove unknown: %d %s", code, out)
	}
	if code, out := run("remove", "gw1"); code != 0 {
		t.Fatalf("remove: %d %s", code, out)
	}
	if a, _ := broker.LoadAgents(filepath.Join(dir, "hub", "agents.yaml")); len(a.Agents) != 0 {
		t.Fatalf("agents left: %+v", a.Agents)
	}
}
