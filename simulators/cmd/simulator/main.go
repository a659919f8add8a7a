// Command simulator runs the floorpulse plant simulator: a seeded,
// deterministic shop floor served over MQTT (built-in broker or an external
// one) and OPC UA, with a month of history published fast, then live events,
// and a ground-truth file of what really ran.
//
//	simulator run -config configs/simulator.yaml -truth var/truth.json [-history 840h] [-live 30s] [-log-level debug]
//
// The log level is the configuration's log_level; -log-level overrides it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/floorpulse/floorpulse/pkg/logging"
	"github.com/floorpulse/floorpulse/simulators/internal/run"
)

func main() {
	if err := mainErr(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "simulator:", err)
		os.Exit(1)
	}
}

func mainErr(args []string) error {
	if len(args) == 0 || args[0] != "run" {
		return fmt.Errorf("usage: simulator run -config FILE [-truth FILE] [-history DURATION] [-live DURATION] [-log-level LEVEL]")
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	cfgPath := fs.String("config", "configs/simulator.yaml", "configuration file")
	truth := fs.String("truth", "", "where to write the ground truth JSON (empty: not written)")
	history := fs.Duration("history", 0, "override the config's history")
	live := fs.Duration("live", 0, "override the config's live duration (0 = until interrupted)")
	var level logging.Flag
	fs.Var(&level, "log-level", logging.Usage)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	cfg, err := run.Load(*cfgPath)
	if err != nil {
		return err
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "history":
			cfg.History = *history
		case "live":
			cfg.Live = *live
		}
	})
	if err := cfg.Validate(); err != nil {
		return err
	}
	log, err := logging.New(os.Stderr, level.Or(cfg.LogLevel))
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return run.New(cfg, *truth, run.WallClock{}, log).Run(ctx)
}
