// Command simulator runs the floorpulse plant simulator: a seeded,
// deterministic shop floor served over MQTT (built-in broker or an external
// one) and OPC UA, with a month of history published fast, then live events,
// and a ground-truth file of what really ran.
//
//	simulator run -config configs/simulator.yaml -truth var/truth.json [-history 840h] [-live 30s]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

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
		return fmt.Errorf("usage: simulator run -config FILE [-truth FILE] [-history DURATION] [-live DURATION]")
	}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	cfgPath := fs.String("config", "configs/simulator.yaml", "configuration file")
	truth := fs.String("truth", "", "where to write the ground truth JSON (empty: not written)")
	history := fs.Duration("history", 0, "override the config's history")
	live := fs.Duration("live", 0, "override the config's live duration (0 = until interrupted)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
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
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return run.New(cfg, *truth, run.WallClock{}, log).Run(ctx)
}
