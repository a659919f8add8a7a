package segment

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
)

// The expected.json files were computed by hand (the arithmetic is in each
// case's README); -update rewrites them from the code, and what it writes
// must then be checked by hand again.
var update = flag.Bool("update", false, "rewrite testdata/*/expected.json")

// input is a case: entities that run a daily local window over date
// ranges, the months judged (the transitions go from each to the next),
// and the moment days are counted up to.
type input struct {
	Zone     string   `json:"zone"`
	Months   []string `json:"months"`
	AsOf     string   `json:"as_of"`
	Entities []struct {
		Kind      string `json:"kind"`
		Site      string `json:"site"`
		Line      string `json:"line"`
		ID        string `json:"id"`
		InService string `json:"in_service"`
		// SeenFrom: the first day with data, when it is before the runs.
		SeenFrom string `json:"seen_from"`
		Runs     []struct {
			From  string `json:"from"`
			To    string `json:"to"`
			Daily string `json:"daily"` // HH:MM-HH:MM local
		} `json:"runs"`
	} `json:"entities"`
}

type goldenAssignment struct {
	Assignment
	TextEN string `json:"text_en"`
	TextZH string `json:"text_zh"`
}

type expected struct {
	Assignments []goldenAssignment `json:"assignments"`
	Transitions []Transition       `json:"transitions"`
}

type interval struct{ from, to time.Time }

// runOf returns the run seconds of the intervals within a period.
func runOf(ivs []interval) func(activity.Period) float64 {
	return func(p activity.Period) float64 {
		var s float64
		for _, iv := range ivs {
			lo, hi := iv.from, iv.to
			if lo.Before(p.Start) {
				lo = p.Start
			}
			if hi.After(p.End) {
				hi = p.End
			}
			if hi.After(lo) {
				s += hi.Sub(lo).Seconds()
			}
		}
		return s
	}
}

func clock(t *testing.T, day time.Time, hm string, loc *time.Location) time.Time {
	c, err := time.Parse("15:04", hm)
	if err != nil {
		t.Fatal(err)
	}
	return time.Date(day.Year(), day.Month(), day.Day(), c.Hour(), c.Minute(), 0, 0, loc)
}

func TestGolden(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/*")
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, "input.json"))
			if err != nil {
				t.Fatal(err)
			}
			var in input
			if err := json.Unmarshal(data, &in); err != nil {
				t.Fatal(err)
			}
			loc, err := time.LoadLocation(in.Zone)
			if err != nil {
				t.Fatal(err)
			}
			asOf, err := time.ParseInLocation("2006-01-02T15:04", in.AsOf, loc)
			if err != nil {
				t.Fatal(err)
			}
			rules := DefaultRules(activity.Tiers{High: 400 * time.Hour, Medium: 200 * time.Hour, Low: 80 * time.Hour})
			opRules := DefaultRules(activity.Tiers{High: 120 * time.Hour, Medium: 60 * time.Hour, Low: 20 * time.Hour})
			var got expected
			var prev []Assignment
			for _, name := range in.Months {
				m, err := activity.ParseMonth(name, loc)
				if err != nil {
					t.Fatal(err)
				}
				var cur []Assignment
				for _, e := range in.Entities {
					var ivs []interval
					for _, r := range e.Runs {
						from, _ := time.ParseInLocation("2006-01-02", r.From, loc)
						to, _ := time.ParseInLocation("2006-01-02", r.To, loc)
						a, b, _ := strings.Cut(r.Daily, "-")
						for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
							ivs = append(ivs, interval{clock(t, d, a, loc), clock(t, d, b, loc)})
						}
					}
					ent := Entity{Kind: e.Kind, Site: e.Site, Line: e.Line, ID: e.ID}
					if e.InService != "" {
						ent.InService, _ = time.ParseInLocation("2006-01-02", e.InService, loc)
					}
					if e.SeenFrom != "" {
						ent.FirstSeen, _ = time.ParseInLocation("2006-01-02", e.SeenFrom, loc)
					}
					r := rules
					if e.Kind == Operator {
						r = opRules
					}
					cur = append(cur, r.Assign(r.Build(ent, m, asOf, loc, runOf(ivs))))
				}
				Sort(cur)
				for _, a := range cur {
					got.Assignments = append(got.Assignments, goldenAssignment{a, a.Reason.Text("en"), a.Reason.Text("zh-CN")})
				}
				if prev != nil {
					got.Transitions = append(got.Transitions, Transitions(prev, cur)...)
				}
				prev = cur
			}
			path := filepath.Join(dir, "expected.json")
			if *update {
				out, _ := json.MarshalIndent(got, "", "  ")
				if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			data, err = os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var want expected
			if err := json.Unmarshal(data, &want); err != nil {
				t.Fatal(err)
			}
			for i := range max(len(got.Assignments), len(want.Assignments)) {
				var g, w goldenAssignment
				if i < len(got.Assignments) {
					g = got.Assignments[i]
				}
				if i < len(want.Assignments) {
					w = want.Assignments[i]
				}
				if !reflect.DeepEqual(g, w) {
					gj, _ := json.Marshal(g)
					wj, _ := json.Marshal(w)
					t.Errorf("assignment %d:\n got %s\nwant %s", i, gj, wj)
				}
			}
			if !reflect.DeepEqual(got.Transitions, want.Transitions) {
				gj, _ := json.Marshal(got.Transitions)
				wj, _ := json.Marshal(want.Transitions)
				t.Errorf("transitions:\n got %s\nwant %s", gj, wj)
			}
		})
	}
}
