// Command agent is the floorpulse edge agent: it reads equipment signals over
// MQTT and OPC UA, keeps them in an on-disk queue and forwards them to NATS
// JetStream.
//
//	agent run   -config agent.yaml [-log-level debug]
//	                                 run until SIGINT/SIGTERM; -log-level overrides the config's log_level
//	agent check -config agent.yaml   validate the configuration and exit
//	agent opcua browse -endpoint opc.tcp://host:4840 [-emit-config]
//	                                 list an OPC UA server's variables, or print an opcua section for them
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/floorpulse/floorpulse/agent/internal/app"
	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/pkg/logging"
)

const usage = `usage:
  agent run   -config FILE [-log-level LEVEL]
                             run the agent (-log-level overrides log_level)
  agent check -config FILE   validate the configuration (exit 1 on problems)
  agent opcua browse -endpoint URL [flags]
                             list an OPC UA server's address space (-h for flags)
`

// Runtime defaults unless the environment sets them (GOGC, GOMAXPROCS). An
// edge gateway has less memory to spare than CPU, and other work to do:
//   - the heap may grow by three quarters of its live size between
//     collections rather than double (Go's default), which holds the
//     agent's peak RSS under 25 MB under a flood (at Go's default it went
//     over; at half, the collections cost a tenth more CPU);
//   - one thread runs Go code at a time: handing each message from
//     goroutine to goroutine across cores costs more than the work itself
//     (about a third less CPU per signal at 35,000 a second), and at about
//     7 CPU seconds per million signals one core carries some 140,000 a
//     second.
//
// See docs/agent.md (Go runtime defaults) and docs/performance.md.
const (
	gcPercent = 75
	maxProcs  = 1
)

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(maxProcs)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "opcua" {
		return runOPCUA(args[1:], stdout, stderr)
	}
	if len(args) == 0 || (args[0] != "run" && args[0] != "check") {
		fmt.Fprint(stderr, usage)
		return 2
	}
	fs := flag.NewFlagSet("agent "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "configs/agent.yaml", "configuration file")
	var level logging.Flag
	fs.Var(&level, "log-level", logging.Usage)
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, line)
		}
		return 1
	}
	if args[0] == "check" {
		fmt.Fprintln(stdout, "config ok")
		return 0
	}
	// Reading a large file (10,000 OPC UA nodes: a YAML tree of about
	// 10 MB, and what decoding it allocated) leaves garbage that the
	// collector would keep mapped while the sources start: hand it back
	// first, so that the peak RSS is that of the larger of the two steps
	// rather than their sum.
	debug.FreeOSMemory()
	log, err := logging.New(stderr, level.Or(cfg.LogLevel))
	if err != nil {
		fmt.Fprintln(stderr, err) // not reached: the flag and log_level are checked already
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.New(cfg, log).Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("agent failed", "err", err)
		return 1
	}
	return 0
}
