package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/floorpulse/floorpulse/pkg/testenv"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds agent, hub and simulator once for all the package's tests
// and returns the folder holding them.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "floorpulse-e2e-bin"); buildErr != nil {
			return
		}
		build := exec.Command("go", "build", "-o", binDir+"/", "./agent/cmd/agent", "./hub/cmd/hub", "./simulators/cmd/simulator")
		build.Dir = testenv.Root(t)
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// writer returns a function that writes a file into dir and returns its path.
func writer(t *testing.T, dir string) func(name, body string) string {
	return func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
}

// addAgent gives the agent id its NATS identity on the hub, with `hub agent
// add`, publishing for site plant1: the seed goes where agentConfig points
// the agent's nats.nkey.
func addAgent(t *testing.T, bin, hubCfg, dir, id string) {
	t.Helper()
	out, err := exec.Command(bin+"/hub", "agent", "add", id, "-site", "plant1", "-seed", agentSeed(dir, id), "-config", hubCfg).CombinedOutput()
	if err != nil {
		t.Fatalf("hub agent add: %v\n%s", err, out)
	}
}

func agentSeed(dir, id string) string { return filepath.Join(dir, "agent-"+id+".nk") }

// addReader gives a maintenance system its NATS identity on the hub, with
// `hub agent add -read-events`, and returns its seed file.
func addReader(t *testing.T, bin, hubCfg, dir, name string) string {
	t.Helper()
	seed := filepath.Join(dir, name+".nk")
	out, err := exec.Command(bin+"/hub", "agent", "add", name, "-read-events", "-seed", seed, "-config", hubCfg).CombinedOutput()
	if err != nil {
		t.Fatalf("hub agent add: %v\n%s", err, out)
	}
	return seed
}

// agentConfig is an agent configuration reading the simulator's MQTT topics
// (and, when nodes is not empty, OPC UA nodes of the server at opcPort),
// authenticating to the hub with the identity addAgent made.
func agentConfig(id, dir string, httpPort, natsPort int, broker string, opcPort int, nodes string) string {
	cfg := fmt.Sprintf(`agent_id: %s
site: plant1
data_dir: %s/agent
http: 127.0.0.1:%d
nats: {url: "nats://127.0.0.1:%d", nkey: %q}
mqtt:
  - broker: %s
    client_id: floorpulse-agent-%s
    qos: 1
    subscriptions:
      - topic: floorpulse/+/+/+/+
        template: floorpulse/{site}/{line}/{equipment}/{signal}
        format: json
        value: value
        time: ts
        time_format: rfc3339
`, id, dir, httpPort, natsPort, agentSeed(dir, id), broker, id)
	if nodes != "" {
		cfg += fmt.Sprintf(`opcua:
  - endpoint: opc.tcp://127.0.0.1:%d
    publishing_interval: 50ms
    backfill: 1h
    nodes:
%s`, opcPort, nodes)
	}
	return cfg
}

// apiToken makes an API token (a viewer's) for the hub of the configuration
// at cfg, with the hub's own command.
func apiToken(t *testing.T, bin, cfg string) string {
	t.Helper()
	out, err := exec.Command(bin+"/hub", "token", "add", "e2e", "-role", "viewer", "-config", cfg).Output()
	if err != nil {
		t.Fatalf("hub token add: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// getJSON decodes the answer at url, asked with an API token.
func getJSON(url, token string, v any) error {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
