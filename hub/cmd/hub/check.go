package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/floorpulse/floorpulse/hub/internal/auth"
	"github.com/floorpulse/floorpulse/hub/internal/broker"
	"github.com/floorpulse/floorpulse/hub/internal/config"
)

// checkMain is `hub check`: the configuration, and the files the hub reads
// beside it (the agents' NATS identities, the users and the API tokens),
// each problem named with its file; 0 when all of them are sound.
func checkMain(cfgPath string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var errs []error
	agents := 0
	if cfg.NATS.URL == "" && cfg.NATS.Auth != config.AuthNone {
		a, err := broker.LoadAgents(cfg.AgentsPath()) // validates, naming file and line
		if err != nil {
			errs = append(errs, err) // it names the file
		} else {
			agents = len(a.Agents)
		}
	}
	if _, err := auth.OpenAccounts(cfg.Users(), cfg.Tokens()); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "config ok (%d agent identities; users %s, tokens %s)\n", agents, cfg.Users(), cfg.Tokens())
	return 0
}
