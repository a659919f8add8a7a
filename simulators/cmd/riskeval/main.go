// Command riskeval scores the hub's failure-risk detector on a simulated
// plant with degradation, against the simulator's ground truth:
//
//	go run ./simulators/cmd/riskeval -machines 50 -months 3 -seeds 4,5,6
//
// It prints, per seed, the degradations (breakdowns with a precursor) in the
// scored months, the share warned about, the median lead time of the
// warnings, and the false warnings per machine-month.
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/pkg/risk"
	"github.com/floorpulse/floorpulse/simulators/internal/riskeval"
)

func main() {
	def := risk.DefaultConfig()
	machines := flag.Int("machines", 50, "machines in the plant")
	months := flag.Int("months", 3, "scored calendar months")
	learn := flag.Duration("learn", 14*24*time.Hour, "simulated before the scored months (the detectors learn their machines)")
	seeds := flag.String("seeds", "4,5,6", "plant seeds, comma separated")
	start := flag.String("start", "2026-01-01", "start date of the simulation (UTC)")
	thresholds := flag.String("threshold", fmt.Sprint(def.Threshold), "score that counts as elevated (several, comma separated, are scored on the same plant)")
	holds := flag.String("hold", def.Hold.String(), "elevated this long opens a warning (several, comma separated)")
	sample := flag.Duration("sample", 5*time.Minute, "how often the machines publish count and gauges")
	verbose := flag.Bool("v", false, "list the missed degradations and the false warnings")
	flag.Parse()
	st, err := time.Parse("2006-01-02", *start)
	if err != nil {
		fail(fmt.Errorf("-start: %w", err))
	}
	var cfgs []risk.Config
	for _, ts := range strings.Split(*thresholds, ",") {
		th, err := strconv.ParseFloat(strings.TrimSpace(ts), 64)
		if err != nil {
			fail(fmt.Errorf("-threshold: %w", err))
		}
		for _, hs := range strings.Split(*holds, ",") {
			h, err := time.ParseDuration(strings.TrimSpace(hs))
			if err != nil {
				fail(fmt.Errorf("-hold: %w", err))
			}
			c := def
			c.Threshold, c.Hold = th, h
			cfgs = append(cfgs, c)
		}
	}
	fmt.Printf("%-5s %9s %5s %8s %13s %7s %11s %9s %16s %7s\n", "seed", "threshold", "hold", "machines", "degradations", "warned", "median lead", "warnings", "false/mach-month", "sudden")
	for _, s := range strings.Split(*seeds, ",") {
		seed, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			fail(fmt.Errorf("-seeds: %w", err))
		}
		rs, err := riskeval.Run(riskeval.Options{Machines: *machines, Months: *months, Learn: *learn, Seed: seed, Start: st, Sample: *sample, Risks: cfgs})
		if err != nil {
			fail(err)
		}
		for _, r := range rs {
			fmt.Printf("%-5d %9g %5s %8d %13d %6.0f%% %11s %9d %16.3f %7d\n", seed, r.Risk.Threshold, r.Risk.Hold, r.Machines, r.Degradations, 100*r.Share(),
				riskeval.Hours(r.MedianLead()), r.Warnings, r.FalsePerMachineMonth(), r.Sudden)
			if *verbose {
				var kinds []string
				for k := range r.ByKind {
					kinds = append(kinds, k)
				}
				sort.Strings(kinds)
				for _, k := range kinds {
					c := r.ByKind[k]
					fmt.Printf("  %-20s %3d of %3d warned\n", k, c[1], c[0])
				}
				for _, b := range r.Missed {
					fmt.Printf("  missed %s/%s breakdown %s precursor %s %s %v noise %.2f\n", b.Line, b.Equipment,
						b.Start.Format(time.RFC3339), b.Start.Sub(b.Precursor.Start).Round(time.Hour), b.Precursor.Shape, b.Precursor.Signals, b.Precursor.Noise)
				}
				for _, w := range r.FalseWarnings {
					fmt.Printf("  false %s/%s opened %s closed %s %+v\n", w.Line, w.Equipment, w.Opened.Format(time.RFC3339), w.Closed.Format(time.RFC3339), w.Evidence)
				}
			}
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "riskeval:", err)
	os.Exit(1)
}
