package broker

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
	"gopkg.in/yaml.v3"

	pconfig "github.com/floorpulse/floorpulse/pkg/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Agent is one agent's NATS identity: its name, the public key of its nkey
// user and the sites it may publish signals for. The seed never leaves the
// agent's machine once written; the hub keeps the public key only.
type Agent struct {
	// Name of the agent; its reply inbox is InboxPrefix(Name).
	Name string `yaml:"name"`
	// NKey is the public nkey of the agent's user ("U...").
	NKey string `yaml:"nkey"`
	// Sites the agent publishes signals for.
	Sites []string `yaml:"sites,omitempty"`
	// ReadEvents lets the identity read the events stream with durable
	// consumers of its own: a maintenance system rather than an agent.
	ReadEvents bool `yaml:"read_events,omitempty"`
}

// Streams names what permissions refer to.
type Streams struct {
	// SignalPrefix is the first part of the signal subjects.
	SignalPrefix string
	// Events is the events stream.
	Events string
}

// Agents is the file of agent identities (data_dir/agents.yaml by default),
// written by `hub agent add` and `hub agent remove` and read by the embedded
// server at start and whenever it changes.
type Agents struct {
	Agents []Agent `yaml:"agents"`
}

// Validate implements pconfig.Validator: valid names, keys and sites, no
// name or key twice.
func (a *Agents) Validate() error {
	var errs []error
	names, keys := map[string]bool{}, map[string]bool{}
	for i, ag := range a.Agents {
		p := fmt.Sprintf("agents[%d]", i)
		if !signal.ValidToken(ag.Name) {
			errs = append(errs, pconfig.Errorf(p+".name", "a name without spaces, dots, '*' or '>' (got %q)", ag.Name))
		} else if names[ag.Name] {
			errs = append(errs, pconfig.Errorf(p+".name", "%q listed twice", ag.Name))
		}
		names[ag.Name] = true
		if !nkeys.IsValidPublicUserKey(ag.NKey) {
			errs = append(errs, pconfig.Errorf(p+".nkey", "not a public user nkey (want U...)"))
		} else if keys[ag.NKey] {
			errs = append(errs, pconfig.Errorf(p+".nkey", "key listed twice"))
		}
		keys[ag.NKey] = true
		if len(ag.Sites) == 0 && !ag.ReadEvents {
			errs = append(errs, pconfig.Errorf(p+".sites", "list at least one site (or set read_events)"))
		}
		for j, s := range ag.Sites {
			if !signal.ValidToken(s) {
				errs = append(errs, pconfig.Errorf(fmt.Sprintf("%s.sites[%d]", p, j), "invalid site %q", s))
			}
		}
	}
	return errors.Join(errs...)
}

// LoadAgents reads the agents file; a file that does not exist holds no
// agents.
func LoadAgents(path string) (*Agents, error) {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return ParseAgents(path, data)
}

// ParseAgents decodes the contents of the agents file (named path in
// errors); empty contents hold no agents.
func ParseAgents(path string, data []byte) (*Agents, error) {
	var a Agents
	if len(bytes.TrimSpace(data)) == 0 {
		return &a, nil
	}
	if err := pconfig.Decode(path, data, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

const agentsHeader = "# NATS identities of the agents: written by `hub agent add` and `hub agent remove`.\n" +
	"# The running hub reloads this file when it changes.\n"

// Save writes the file atomically (a new file renamed over the old one).
func (a *Agents) Save(path string) error {
	if err := a.Validate(); err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString(agentsHeader)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(a); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".agents-*.yaml")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Find returns the agent called name.
func (a *Agents) Find(name string) (Agent, bool) {
	i := slices.IndexFunc(a.Agents, func(x Agent) bool { return x.Name == name })
	if i < 0 {
		return Agent{}, false
	}
	return a.Agents[i], true
}

// Remove removes the agent called name; false if there is none.
func (a *Agents) Remove(name string) bool {
	n := len(a.Agents)
	a.Agents = slices.DeleteFunc(a.Agents, func(x Agent) bool { return x.Name == name })
	return len(a.Agents) < n
}

// NewAgent creates an nkey user for an agent and returns its identity and
// its seed (to be written to the agent's nkey file).
func NewAgent(name string, sites []string, readEvents bool) (Agent, []byte, error) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		return Agent{}, nil, err
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil {
		return Agent{}, nil, err
	}
	seed, err := kp.Seed()
	if err != nil {
		return Agent{}, nil, err
	}
	// Wipe clears the key pair's own seed, which Seed returns.
	return Agent{Name: name, NKey: pub, Sites: slices.Clone(sites), ReadEvents: readEvents}, slices.Clone(seed), nil
}

// InboxPrefix is the prefix of an agent's reply subjects (the stream's
// PubAcks come back on them): the agent may subscribe below it and nowhere
// else. The agent sets it as nats.inbox_prefix, by default from its agent_id.
func InboxPrefix(name string) string { return "_INBOX." + name }

// Permissions are an identity's: publish the signals of its own sites
// (prefix.<site>.<line>.<equipment>) and subscribe to its own reply inbox,
// nothing else. JetStream answers a publish on the reply subject without the
// publisher needing any $JS.API permission. With ReadEvents it may also look
// up the events stream, create and read durable consumers on it and ack
// their messages; it may not delete or change streams or delete consumers.
func (a Agent) Permissions(st Streams) *server.Permissions {
	var pub []string
	for _, s := range a.Sites {
		pub = append(pub, st.SignalPrefix+"."+s+".*.*")
	}
	if a.ReadEvents {
		e := st.Events
		pub = append(pub,
			"$JS.API.INFO",
			"$JS.API.STREAM.INFO."+e,
			"$JS.API.CONSUMER.CREATE."+e+".>",
			"$JS.API.CONSUMER.DURABLE.CREATE."+e+".*",
			"$JS.API.CONSUMER.INFO."+e+".*",
			"$JS.API.CONSUMER.MSG.NEXT."+e+".*",
			"$JS.ACK."+e+".>",
		)
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: []string{InboxPrefix(a.Name) + ".>"}},
	}
}

// WriteSeed writes an nkey seed to path with mode 0600, refusing to replace
// an existing file.
func WriteSeed(path string, seed []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(slices.Clone(seed), '\n')); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

// HubKey returns the public key of the hub's own nkey user, whose seed is at
// path; the seed is created (mode 0600) when the file does not exist.
func HubKey(path string) (string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return "", err
		}
		defer kp.Wipe()
		seed, err := kp.Seed()
		if err != nil {
			return "", err
		}
		if err := WriteSeed(path, seed); err != nil {
			return "", fmt.Errorf("writing the hub's nkey seed: %w", err)
		}
		return kp.PublicKey()
	}
	if err != nil {
		return "", err
	}
	kp, err := nkeys.ParseDecoratedNKey(data)
	if err != nil {
		return "", fmt.Errorf("the hub's nkey seed %s: %w", path, err)
	}
	defer kp.Wipe()
	pub, err := kp.PublicKey()
	if err != nil {
		return "", err
	}
	if _, err := kp.Seed(); err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return "", fmt.Errorf("the hub's nkey seed %s: not a user seed (SU...)", path)
	}
	return pub, nil
}
