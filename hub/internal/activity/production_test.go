package activity

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// productionCase is testdata/production/<case>/input.json: equipment with
// their observations in the plant's local time (an explicit offset picks
// one of the repeated hours of a DST change), the periods to compute, and
// want.json the figures, computed by hand (the case's README.md shows the
// arithmetic). The figures are those written to InfluxDB (ProductionFields);
// a field missing from want must be missing from the result.
type productionCase struct {
	Timezone  string `json:"timezone"`
	Timeout   string `json:"timeout"`
	Periods   []struct{ Kind, Start string }
	Equipment []struct {
		ID, Line   string
		IdealCycle string  `json:"ideal_cycle"`
		RatedPower float64 `json:"rated_power"`
		Signals    [][3]any
	}
}

type productionWant struct {
	Equipment []wantFields `json:"equipment"`
	Lines     []wantFields `json:"lines"`
}

type wantFields struct {
	Key    string             `json:"key"` // equipment id, line, or "" for the site
	Period string             `json:"period"`
	Fields map[string]float64 `json:"fields"`
}

func parseLocal(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.ParseInLocation("2006-01-02T15:04:05", s, loc)
}

func TestProductionGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "production", "*", "input.json"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	// Each case is computed from every power observation kept (window 0)
	// and with power folded into energy pieces as it comes (an hour
	// behind the latest observation, and all but the latest): the figures
	// are the same.
	for _, in := range dirs {
		for _, window := range []time.Duration{0, time.Hour, 1} {
			dir := filepath.Dir(in)
			t.Run(fmt.Sprintf("%s/window=%s", filepath.Base(dir), window), func(t *testing.T) {
				var c productionCase
				var want productionWant
				for path, v := range map[string]any{in: &c, filepath.Join(dir, "want.json"): &want} {
					b, err := os.ReadFile(path)
					if err != nil {
						t.Fatal(err)
					}
					if err := json.Unmarshal(b, v); err != nil {
						t.Fatalf("%s: %v", path, err)
					}
				}
				loc, err := time.LoadLocation(c.Timezone)
				if err != nil {
					t.Fatal(err)
				}
				var timeout time.Duration
				if c.Timeout != "" {
					if timeout, err = time.ParseDuration(c.Timeout); err != nil {
						t.Fatal(err)
					}
				}
				var periods []Period
				for _, p := range c.Periods {
					start, err := parseLocal(p.Start+map[string]string{Month: "-01T00:00:00", Day: "T00:00:00"}[p.Kind], loc)
					if err != nil {
						t.Fatal(err)
					}
					periods = append(periods, map[string]func(time.Time, *time.Location) Period{Month: MonthOf, Day: DayOf, Hour: HourOf}[p.Kind](start, loc))
				}
				var figs []Figures
				got := map[string]map[string]float64{}
				for _, e := range c.Equipment {
					eq := Equipment{Key: signal.Key{Site: "s", Line: e.Line, Equipment: e.ID}, Registered: true, RatedPower: e.RatedPower}
					if e.IdealCycle != "" {
						if eq.IdealCycle, err = time.ParseDuration(e.IdealCycle); err != nil {
							t.Fatal(err)
						}
					}
					tl := &state.Timeline{Timeout: int64(timeout), PowerWindow: int64(window)}
					for _, o := range e.Signals {
						at, err := parseLocal(o[0].(string), loc)
						if err != nil {
							t.Fatal(err)
						}
						ts := at.UnixNano()
						tl.Observe(ts)
						switch name := o[1].(string); name {
						case signal.Run:
							tl.SetRun(ts, map[bool]int8{true: state.True, false: state.False}[o[2].(bool)])
						case signal.State:
							st, ok := state.ParseState(o[2].(string))
							if !ok {
								t.Fatalf("state %v", o[2])
							}
							tl.SetState(ts, st)
						case signal.Count:
							tl.SetCount(ts, o[2].(float64))
						case signal.Scrap:
							tl.SetSeries(state.SeriesScrap, ts, o[2].(float64))
						case signal.Power:
							tl.SetSeries(state.SeriesPower, ts, o[2].(float64))
						case signal.Energy:
							tl.SetSeries(state.SeriesEnergy, ts, o[2].(float64))
						default:
							t.Fatalf("signal %s", name)
						}
						tl.Fold(&state.Folded{})
					}
					if n := len(tl.SeriesOf(state.SeriesPower)); window == 1 && n > 2 {
						t.Errorf("%s: %d power observations kept, want at most 2", e.ID, n)
					}
					for _, p := range periods {
						f := ComputeSpans(eq, tl, nil, p, 0)
						figs = append(figs, f)
						got[e.ID+" "+p.Name()] = ProductionFields(f)
					}
				}
				for _, r := range RollUp(figs, Tiers{}) {
					got["line:"+r.Line+" "+r.Period.Name()] = RollupProductionFields(r)
				}
				check := func(key string, want map[string]float64) {
					g, ok := got[key]
					if !ok {
						t.Errorf("%s: no figures", key)
						return
					}
					var names []string
					for n := range g {
						names = append(names, n)
					}
					for n := range want {
						if _, ok := g[n]; !ok {
							names = append(names, n)
						}
					}
					sort.Strings(names)
					var diffs []string
					for _, n := range names {
						gv, gok := g[n]
						wv, wok := want[n]
						switch {
						case !wok:
							diffs = append(diffs, fmt.Sprintf("%s = %v, want absent", n, gv))
						case !gok:
							diffs = append(diffs, fmt.Sprintf("%s absent, want %v", n, wv))
						case math.Abs(gv-wv) > 1e-9*math.Max(1, math.Abs(wv)):
							diffs = append(diffs, fmt.Sprintf("%s = %v, want %v", n, gv, wv))
						}
					}
					if len(diffs) > 0 {
						t.Errorf("%s:\n  %s", key, strings.Join(diffs, "\n  "))
					}
				}
				for _, w := range want.Equipment {
					check(w.Key+" "+w.Period, w.Fields)
				}
				for _, w := range want.Lines {
					check("line:"+w.Key+" "+w.Period, w.Fields)
				}
			})
		}
	}
}

// Counter increases: each observation's rise over the one before, its value
// after a drop (a restart from 0), nothing for the first or a repeat, at
// the observation's instant, within [a, b).
func TestCounterIncreases(t *testing.T) {
	cs := []state.Count{{T: 10, V: 5}, {T: 20, V: 7}, {T: 30, V: 7}, {T: 40, V: 2}, {T: 50, V: 0}, {T: 60, V: 4}}
	got := state.CounterIncreases(cs, 10, 60)
	want := []state.Count{{T: 20, V: 2}, {T: 40, V: 2}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := state.CounterIncreases(cs, 11, 61); fmt.Sprint(got) != fmt.Sprint(append(want, state.Count{T: 60, V: 4})) {
		t.Fatalf("got %v", got)
	}
}
