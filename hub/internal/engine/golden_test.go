package engine_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

var update = flag.Bool("update", false, "rewrite the expected figures of the golden cases (testdata/*/want.json)")

// Golden cases: testdata/<case>/config.yaml is a hub configuration (the
// parts the engine reads), signals.jsonl the input in the wire format, one
// signal a line, batches separated by a blank line; want.json the figures
// after every batch was applied. Periods with no data at all (every second
// unknown) are left out, except months; hours are left out.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "config.yaml"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, cfgPath := range dirs {
		dir := filepath.Dir(cfgPath)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			got, err := json.MarshalIndent(runCase(t, dir), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			wantPath := filepath.Join(dir, "want.json")
			if *update {
				if err := os.WriteFile(wantPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatalf("%v (run with -update to write it, then check it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("figures differ from %s (-update rewrites it):\n got: %s\nwant: %s", wantPath, got, want)
			}
		})
	}
}

// Golden is the expected output of a case.
type Golden struct {
	// Batches lists, per batch, the equipment months whose figures it rewrites.
	Batches        [][]string        `json:"batches"`
	UnmappedStates uint64            `json:"unmapped_states"`
	Equipment      []GoldenEquipment `json:"equipment"`
	Lines          []GoldenLine      `json:"lines"`
	Operators      []GoldenOperator  `json:"operators"`
}

// GoldenEquipment is one equipment period; hours per state, zero states left out.
type GoldenEquipment struct {
	Equipment    string             `json:"equipment"`
	Period       string             `json:"period"`
	Hours        float64            `json:"calendar_hours"`
	States       map[string]float64 `json:"state_hours"`
	Failures     int                `json:"failures"`
	Availability *float64           `json:"availability,omitempty"`
	Active       *bool              `json:"active,omitempty"`
}

// GoldenLine is one line month.
type GoldenLine struct {
	Line       string             `json:"line"`
	Period     string             `json:"period"`
	Registered int                `json:"registered"`
	Active     int                `json:"active"`
	States     map[string]float64 `json:"state_hours"`
	Failures   int                `json:"failures"`
}

// GoldenOperator is one operator month on a line, or site-wide (line empty).
type GoldenOperator struct {
	Line     string   `json:"line"`
	Operator string   `json:"operator"`
	Period   string   `json:"period"`
	RunHours float64  `json:"run_hours"`
	Share    *float64 `json:"share,omitempty"`
	Active   *bool    `json:"active,omitempty"`
	Tier     string   `json:"tier,omitempty"`
}

func round(v float64) float64 { return math.Round(v*1e6) / 1e6 }

func hoursByState(secs [state.NumStates]float64) map[string]float64 {
	out := map[string]float64{}
	for i, s := range secs {
		if s != 0 {
			out[state.State(i).String()] = round(s / 3600)
		}
	}
	return out
}

func readBatches(t *testing.T, path string) [][]signal.Signal {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	batches := [][]signal.Signal{nil}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			batches = append(batches, nil)
			continue
		}
		s, err := signal.Unmarshal([]byte(line))
		if err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		batches[len(batches)-1] = append(batches[len(batches)-1], s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return batches
}

func runCase(t *testing.T, dir string) Golden {
	cfg, err := config.Load(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(cfg.EngineOptions(), nil)
	out := Golden{Batches: [][]string{}, Equipment: []GoldenEquipment{}, Lines: []GoldenLine{}, Operators: []GoldenOperator{}}
	all := engine.Dirty{}
	for _, b := range readBatches(t, filepath.Join(dir, "signals.jsonl")) {
		_, dirty := eng.Apply(b)
		all.Merge(dirty)
		months := []string{}
		for _, f := range eng.Figures(dirty).Equipment {
			if f.Period.Kind == activity.Month {
				months = append(months, f.Key.Line+"/"+f.Key.Equipment+" "+f.Period.Name())
			}
		}
		sort.Strings(months)
		out.Batches = append(out.Batches, months)
	}
	out.UnmappedStates = eng.Stats().UnmappedStates
	res := eng.Figures(all)
	for _, f := range res.Equipment {
		if f.Period.Kind == activity.Hour || (f.Period.Kind != activity.Month && f.KnownSeconds() == 0) {
			continue
		}
		g := GoldenEquipment{Equipment: f.Key.Line + "/" + f.Key.Equipment, Period: f.Period.Kind + " " + f.Period.Name(),
			Hours: round(f.Period.Hours()), States: hoursByState(f.Seconds), Failures: f.Failures}
		if v, ok := f.Availability(); ok {
			v = round(v)
			g.Availability = &v
		}
		if f.Period.Kind == activity.Month {
			a := f.Active()
			g.Active = &a
		}
		out.Equipment = append(out.Equipment, g)
	}
	sort.SliceStable(out.Equipment, func(i, j int) bool { return out.Equipment[i].Equipment < out.Equipment[j].Equipment })
	for _, r := range res.Rollups {
		if r.Line == "" || r.Period.Kind != activity.Month {
			continue
		}
		out.Lines = append(out.Lines, GoldenLine{Line: r.Line, Period: r.Period.Name(), Registered: r.Registered,
			Active: r.Active, States: hoursByState(r.Seconds), Failures: r.Failures})
	}
	for _, o := range res.Operators {
		g := GoldenOperator{Line: o.Line, Operator: o.Operator, Period: o.Period.Name(), RunHours: round(o.RunSeconds / 3600)}
		if v, ok := o.Share(); ok {
			v = round(v)
			g.Share = &v
		}
		if o.Line == "" {
			a := o.Active()
			g.Active, g.Tier = &a, o.Tier
		}
		out.Operators = append(out.Operators, g)
	}
	return out
}
