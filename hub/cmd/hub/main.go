// Command hub consumes signals from edge agents over NATS JetStream and turns
// them into monthly equipment activity, stored in InfluxDB and served over HTTP.
//
//	hub run   -config configs/hub.yaml [-log-level debug]   (-log-level overrides the config's log_level)
//	hub check -config configs/hub.yaml
//	hub recompute -config FILE | -url URL -from YYYY-MM[-DD] -to YYYY-MM[-DD]
//	hub report -month YYYY-MM [-format table|csv|json|html|pdf] [-lang en|zh-CN] [-o FILE] [-url URL | -config FILE]
//	hub token add NAME -role ROLE -config FILE     (prints a new API token once)
//	hub user add NAME -role ROLE -config FILE      (the password from standard input)
//	hub agent add NAME -site SITE [-site SITE ...] | list | remove NAME  [-config FILE]
//	hub masterdata import|export -entity ENTITY [-f FILE] [-url URL] | audit   (an admin's token in FLOORPULSE_TOKEN)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/floorpulse/floorpulse/hub/internal/app"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/pkg/logging"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd, args := os.Args[1], os.Args[2:]
	switch cmd {
	case "recompute":
		os.Exit(recomputeMain(args, os.Stdout, os.Stderr))
	case "report":
		os.Exit(reportMain(args, os.Stdout, os.Stderr))
	case "token", "user":
		os.Exit(accessMain(cmd == "user", args, os.Stdin, os.Stdout, os.Stderr))
	case "agent":
		os.Exit(agentMain(args, os.Stdout, os.Stderr))
	case "masterdata":
		os.Exit(masterdataMain(args, os.Stdin, os.Stdout, os.Stderr))
	}
	fs := flag.NewFlagSet("hub "+cmd, flag.ExitOnError)
	cfgPath := fs.String("config", "configs/hub.yaml", "configuration file")
	var level logging.Flag
	fs.Var(&level, "log-level", logging.Usage)
	_ = fs.Parse(args)

	switch cmd {
	case "check":
		os.Exit(checkMain(*cfgPath, os.Stdout, os.Stderr))
	case "run":
		cfg, err := config.Load(*cfgPath)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		log, err := logging.New(os.Stderr, level.Or(cfg.LogLevel))
		if err != nil {
			fmt.Fprintln(os.Stderr, err) // not reached: the flag and log_level are checked already
			os.Exit(1)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := app.Run(ctx, cfg, log); err != nil {
			log.Error("hub stopped", "err", err)
			os.Exit(1)
		}
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: hub run|check -config FILE [-log-level LEVEL]\n"+
		"       hub recompute -config FILE | -url URL -from YYYY-MM[-DD] -to YYYY-MM[-DD]\n"+
		"       hub report -month YYYY-MM [-format table|csv|json|html|pdf] [-lang en|zh-CN] [-o FILE] [-url URL | -config FILE]\n"+
		"       hub token add|list|remove [NAME] [-role ROLE] -config FILE\n"+
		"       hub user add|list|remove [NAME] [-role ROLE] -config FILE\n"+
		"       hub agent add NAME -site SITE [-site SITE ...] | list | remove NAME  [-config FILE]\n"+
		"       hub masterdata import -entity ENTITY -f FILE [-dry-run] | export -entity ENTITY [-format csv|json] | audit  [-url URL]")
	os.Exit(2)
}
