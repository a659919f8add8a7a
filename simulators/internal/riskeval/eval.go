// Package riskeval scores the failure-risk detector (pkg/risk) against the
// simulator's ground truth: it simulates a plant with degradation in
// process, feeds every machine's signals to its own detector as the hub
// does, and compares the warnings with the breakdowns of the truth.
//
// A degradation is warned about when a warning opened between its precursor's
// start and its breakdown; its lead time is from the first such warning to the
// breakdown. A warning that opened outside every precursor of its machine is
// false (before a sudden breakdown too). Only what happens after the learning
// period counts: breakdowns and warnings in [start+Learn, end).
package riskeval

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/floorpulse/floorpulse/pkg/risk"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/simulators/internal/plant"
)

// Options of one evaluation.
type Options struct {
	Machines int
	Months   int           // scored calendar months
	Learn    time.Duration // simulated before the scored period
	Seed     int64
	Start    time.Time // start of the simulation
	// Sample is how often the machines publish count and gauges (0: 5m).
	Sample time.Duration
	// Risks are the detector configurations scored, each on the same plant.
	Risks []risk.Config
}

// Warning is one warning of the detector.
type Warning struct {
	Line, Equipment string
	Start, Opened   time.Time
	Closed          time.Time // zero: open at the end
	Breakdown       bool      // closed by a breakdown
	Evidence        []risk.Evidence
}

// Result is the score of one run.
type Result struct {
	Seed          int64
	Risk          risk.Config
	Machines      int
	MachineMonths float64
	Degradations  int             // breakdowns with a precursor in the scored period
	Warned        int             // of them warned about
	Leads         []time.Duration // lead times of those warned about, sorted
	Sudden        int             // breakdowns without a precursor
	Warnings      int             // warnings opened in the scored period
	False         int             // of them outside every precursor
	Missed        []plant.BreakdownTruth
	// ByKind counts the degradations and those warned about by shape and by
	// signal (a degradation counts under each of its signals).
	ByKind          map[string][2]int
	FalseWarnings   []Warning
	AllWarnings     []Warning
	ScoredFrom, End time.Time
}

// Share is the share of degradations warned about.
func (r Result) Share() float64 {
	if r.Degradations == 0 {
		return 0
	}
	return float64(r.Warned) / float64(r.Degradations)
}

// MedianLead is the median lead time of the warned degradations.
func (r Result) MedianLead() time.Duration {
	n := len(r.Leads)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return r.Leads[n/2]
	}
	return (r.Leads[n/2-1] + r.Leads[n/2]) / 2
}

// FalsePerMachineMonth is the number of false warnings per machine-month.
func (r Result) FalsePerMachineMonth() float64 {
	return float64(r.False) / r.MachineMonths
}

// Config returns the plant of an evaluation: lines of up to ten machines
// with different shift patterns, degradation on.
func Config(machines int, seed int64) plant.Config {
	var c plant.Config
	c.SetToDefault()
	c.Timezone = "Europe/Berlin"
	c.Seed = seed
	c.Shifts = []plant.Shift{{Name: "early", Start: "06:00", End: "14:00"}, {Name: "late", Start: "14:00", End: "22:00"}, {Name: "night", Start: "22:00", End: "06:00"}}
	patterns := []struct {
		class   string
		shifts  []string
		weekend bool
	}{
		{"cnc", []string{"early", "late"}, false},
		{"press", []string{"early", "late", "night"}, true},
		{"assembly", []string{"early"}, false},
		{"mill", []string{"early", "late", "night"}, false},
	}
	for i := 0; machines > 0; i++ {
		n := min(machines, 10)
		p := patterns[i%len(patterns)]
		c.Lines = append(c.Lines, plant.Line{Name: fmt.Sprintf("L%d", i+1), Source: plant.SourceMQTT, Machines: n,
			Class: p.class, Shifts: p.shifts, Weekend: p.weekend, Operators: n})
		machines -= n
	}
	c.Degradation = &plant.Degradation{}
	return c
}

// Observation converts a simulator event to the detector's observation; ok
// is false for signals the detector does not use (run, operator, alarm).
func Observation(e plant.Event) (risk.Obs, bool) {
	switch {
	case e.Name == signal.State:
		return risk.Obs{T: e.Time, Kind: risk.State, Str: e.Value.Str}, true
	case e.Name == signal.Count:
		return risk.Obs{T: e.Time, Kind: risk.Count, Num: e.Value.Num}, true
	case e.Value.Kind == signal.KindNumber:
		return risk.Obs{T: e.Time, Kind: risk.Gauge, Name: e.Name, Num: e.Value.Num}, true
	}
	return risk.Obs{}, false
}

// Run simulates the plant and scores each detector configuration.
func Run(o Options) ([]Result, error) {
	cfg := Config(o.Machines, o.Seed)
	if o.Sample > 0 {
		cfg.SampleInterval = o.Sample
	}
	start := o.Start.Truncate(time.Millisecond)
	from := start.Add(o.Learn)
	end := from.AddDate(0, o.Months, 0)
	p, err := plant.New(cfg, start, start)
	if err != nil {
		return nil, err
	}
	type mkey struct {
		line, eq string
		cfg      int
	}
	dets := map[mkey]*risk.Detector{}
	open := map[mkey]*Warning{}
	warnings := make([][]Warning, len(o.Risks))
	for p.Peek().Before(end) {
		for _, e := range p.Next() {
			obs, ok := Observation(e)
			if !ok {
				continue
			}
			for i, rc := range o.Risks {
				k := mkey{e.Line, e.Equipment, i}
				d := dets[k]
				if d == nil {
					d = risk.New()
					dets[k] = d
				}
				for _, c := range d.Observe(obs, rc) {
					if c.Opened {
						open[k] = &Warning{Line: k.line, Equipment: k.eq, Start: c.Start, Opened: c.At, Evidence: c.Evidence}
						continue
					}
					if w := open[k]; w != nil {
						w.Closed, w.Breakdown = c.At, c.Breakdown
						warnings[i] = append(warnings[i], *w)
						delete(open, k)
					}
				}
			}
		}
	}
	p.Final(end)
	for k, w := range open {
		warnings[k.cfg] = append(warnings[k.cfg], *w)
	}
	truth := p.Truth()
	var out []Result
	for i, ws := range warnings {
		sort.Slice(ws, func(a, b int) bool { return ws[a].Opened.Before(ws[b].Opened) })
		out = append(out, score(o, o.Risks[i], truth, ws, from, end))
	}
	return out, nil
}

func score(o Options, rc risk.Config, truth plant.Truth, warnings []Warning, from, end time.Time) Result {
	r := Result{Seed: o.Seed, Risk: rc, Machines: o.Machines, ScoredFrom: from, End: end,
		MachineMonths: float64(o.Machines) * end.Sub(from).Hours() / (24 * 365.2425 / 12), ByKind: map[string][2]int{}}
	windows := map[string][][2]time.Time{}
	for _, b := range truth.Breakdowns {
		if b.Precursor != nil {
			k := b.Line + "/" + b.Equipment
			windows[k] = append(windows[k], [2]time.Time{b.Precursor.Start, b.Start})
		}
		if b.Start.Before(from) {
			continue
		}
		if b.Precursor == nil {
			r.Sudden++
			continue
		}
		r.Degradations++
		warned := false

		for _, w := range warnings {
			if w.Line == b.Line && w.Equipment == b.Equipment && !w.Opened.Before(b.Precursor.Start) && !w.Opened.After(b.Start) {
				r.Warned++
				r.Leads = append(r.Leads, b.Start.Sub(w.Opened))
				warned = true
				break
			}
		}
		if !warned {
			r.Missed = append(r.Missed, b)
		}
		kinds := []string{"shape " + b.Precursor.Shape}
		for _, sg := range b.Precursor.Signals {
			kinds = append(kinds, "signal "+sg.Signal)
		}
		for _, k := range kinds {
			c := r.ByKind[k]
			c[0]++
			if warned {
				c[1]++
			}
			r.ByKind[k] = c
		}
	}
	sort.Slice(r.Leads, func(i, j int) bool { return r.Leads[i] < r.Leads[j] })
	for _, w := range warnings {
		if w.Opened.Before(from) {
			continue
		}
		r.Warnings++
		r.AllWarnings = append(r.AllWarnings, w)
		inside := false
		for _, win := range windows[w.Line+"/"+w.Equipment] {
			if !w.Opened.Before(win[0]) && !w.Opened.After(win[1]) {
				inside = true
			}
		}
		if !inside {
			r.False++
			r.FalseWarnings = append(r.FalseWarnings, w)
		}
	}
	return r
}

// Hours formats a duration in hours.
func Hours(d time.Duration) string { return fmt.Sprintf("%.1f h", math.Round(d.Hours()*10)/10) }
