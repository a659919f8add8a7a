package app

import (
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/floorpulse/floorpulse/hub/internal/broker"
	"github.com/floorpulse/floorpulse/hub/internal/config"
)

// addAgent records an agent identity in the hub's agents file, as `hub
// agent add` does, and returns the file holding its seed. Without sites it
// is an events reader.
func addAgent(t testing.TB, cfg *config.Config, name string, sites ...string) string {
	t.Helper()
	a, err := broker.LoadAgents(cfg.AgentsPath())
	if err != nil {
		t.Fatal(err)
	}
	ag, seed, err := broker.NewAgent(name, sites, len(sites) == 0)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), name+".nk")
	if err := broker.WriteSeed(path, seed); err != nil {
		t.Fatal(err)
	}
	a.Agents = append(a.Agents, ag)
	if err := a.Save(cfg.AgentsPath()); err != nil {
		t.Fatal(err)
	}
	return path
}

// agentOptions are an agent's client options: its nkey and its inbox.
func agentOptions(t testing.TB, name, seed string) []nats.Option {
	t.Helper()
	o, err := nats.NkeyOptionFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return []nats.Option{o, nats.CustomInboxPrefix(broker.InboxPrefix(name))}
}

// connectAgent connects as an agent identity, retrying until the hub's
// embedded server is up.
func connectAgent(t testing.TB, url, name, seed string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, append(agentOptions(t, name, seed), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}
