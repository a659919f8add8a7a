package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/floorpulse/floorpulse/hub/internal/broker"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

const agentUsage = `usage: hub agent add NAME -site SITE [-site SITE ...] [-read-events] [-seed FILE] [-config FILE]
       hub agent list [-config FILE]
       hub agent remove NAME [-config FILE]

Manages the agents' NATS identities: an nkey user per agent that may publish
the signals of its sites only. add writes the agent's nkey seed to -seed
(mode 0600; default NAME.nk here), for the agent's nats.nkey, and records its
public key and sites in the hub's agents file (nats.agents_file, default
data_dir/agents.yaml). -read-events makes an identity for a maintenance
system instead (or as well): it may read the events stream with durable
consumers of its own. A running hub applies the file within seconds: a
removed agent is disconnected at once.`

// sites collects repeated -site flags.
type sites []string

func (s *sites) String() string     { return strings.Join(*s, ",") }
func (s *sites) Set(v string) error { *s = append(*s, v); return nil }

func agentMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, agentUsage)
		return 2
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("hub agent "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, agentUsage); fs.PrintDefaults() }
	cfgPath := fs.String("config", "configs/hub.yaml", "hub configuration file")
	var ss sites
	var seedPath *string
	var readEvents *bool
	if sub == "add" {
		fs.Var(&ss, "site", "a site the agent publishes for (repeat for several)")
		seedPath = fs.String("seed", "", "file to write the agent's nkey seed to (default NAME.nk)")
		readEvents = fs.Bool("read-events", false, "may read the events stream with durable consumers of its own")
	}
	// The name may come before or after the flags.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	} else if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "hub agent %s: unexpected %q\n", sub, fs.Arg(0))
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "hub agent %s: unexpected %q\n", sub, fs.Arg(1))
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	switch {
	case sub == "list" && name == "":
		err = agentList(cfg, stdout)
	case sub == "add" && name != "":
		seed := *seedPath
		if seed == "" {
			seed = name + ".nk"
		}
		err = agentAdd(cfg, name, ss, *readEvents, seed, stdout)
	case sub == "remove" && name != "":
		err = agentRemove(cfg, name, stdout)
	default:
		fs.Usage()
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "hub agent %s: %v\n", sub, err)
		return 1
	}
	return 0
}

func agentAdd(cfg *config.Config, name string, ss []string, readEvents bool, seedPath string, out io.Writer) error {
	if !signal.ValidToken(name) {
		return fmt.Errorf("invalid name %q: no spaces, dots, '*' or '>'", name)
	}
	if len(ss) == 0 && !readEvents {
		return errors.New("give the agent's sites with -site (or -read-events)")
	}
	for _, s := range ss {
		if !signal.ValidToken(s) {
			return fmt.Errorf("invalid site %q", s)
		}
	}
	path := cfg.AgentsPath()
	a, err := broker.LoadAgents(path)
	if err != nil {
		return err
	}
	if _, ok := a.Find(name); ok {
		return fmt.Errorf("agent %s exists in %s; remove it first", name, path)
	}
	ag, seed, err := broker.NewAgent(name, ss, readEvents)
	if err != nil {
		return err
	}
	if err := broker.WriteSeed(seedPath, seed); err != nil {
		return fmt.Errorf("writing the seed: %w", err)
	}
	a.Agents = append(a.Agents, ag)
	if err := a.Save(path); err != nil {
		return err
	}
	abs, err := filepath.Abs(seedPath)
	if err != nil {
		abs = seedPath
	}
	fmt.Fprintf(out, "agent %s added to %s: sites %s, reads events %t, public key %s\n", name, path, strings.Join(ss, ", "), readEvents, ag.NKey)
	fmt.Fprintf(out, "nkey seed written to %s (mode 0600): copy it to the agent's machine only\n", abs)
	if len(ss) > 0 {
		fmt.Fprintf(out, "agent configuration:\n  agent_id: %s\n  nats:\n    nkey: %s\n", name, abs)
	}
	if readEvents {
		fmt.Fprintf(out, "a reader connects with this nkey and the inbox prefix %s (e.g. nats.CustomInboxPrefix)\n", broker.InboxPrefix(name))
	}
	if cfg.NATS.URL != "" {
		fmt.Fprintf(out, "nats.url is set, so the external server must know this user; its nats-server configuration:\n%s",
			serverConf(ag, broker.Streams{SignalPrefix: cfg.NATS.SubjectPrefix, Events: cfg.Events.Stream.Name}))
	} else if cfg.NATS.Auth == config.AuthNone {
		fmt.Fprintln(out, "nats.auth is none: the embedded server does not check identities until it is nkey")
	} else {
		fmt.Fprintln(out, "a running hub applies it within seconds")
	}
	return nil
}

// serverConf is an agent's user in nats-server configuration syntax, for an
// external server's authorization block.
func serverConf(ag broker.Agent, st broker.Streams) string {
	p := ag.Permissions(st)
	q := func(ss []string) string { return `["` + strings.Join(ss, `", "`) + `"]` }
	return fmt.Sprintf("  # agent %s\n  { nkey: %s, permissions: { publish: { allow: %s }, subscribe: { allow: %s } } }\n",
		ag.Name, ag.NKey, q(p.Publish.Allow), q(p.Subscribe.Allow))
}

func agentList(cfg *config.Config, out io.Writer) error {
	a, err := broker.LoadAgents(cfg.AgentsPath())
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSITES\tREADS EVENTS\tPUBLIC KEY")
	for _, ag := range a.Agents {
		fmt.Fprintf(tw, "%s\t%s\t%t\t%s\n", ag.Name, strings.Join(ag.Sites, ","), ag.ReadEvents, ag.NKey)
	}
	return tw.Flush()
}

func agentRemove(cfg *config.Config, name string, out io.Writer) error {
	path := cfg.AgentsPath()
	a, err := broker.LoadAgents(path)
	if err != nil {
		return err
	}
	if !a.Remove(name) {
		return fmt.Errorf("no agent %s in %s", name, path)
	}
	if err := a.Save(path); err != nil {
		return err
	}
	fmt.Fprintf(out, "agent %s removed from %s; a running hub disconnects it within seconds\n", name, path)
	return nil
}
