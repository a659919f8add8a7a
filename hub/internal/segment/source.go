package segment

import (
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Source assigns the segments of a month from an engine's timelines: the
// registered equipment, and the operators over each site.
type Source struct {
	Engine   *engine.Engine
	Location *time.Location
	// Equipment and Operators are the rules of each kind (their volume
	// cut-offs are the equipment and operator tiers).
	Equipment, Operators Rules
	// InService returns when a machine was put in service (nil, or zero:
	// unknown; then a machine is new from its first active day).
	InService func(signal.Key) time.Time
}

// Month returns month m's assignments, sorted, days counted up to now.
func (s Source) Month(m activity.Period, now time.Time) []Assignment {
	var out []Assignment
	sites := map[string]bool{}
	for _, k := range s.Engine.Keys() {
		eq := s.Engine.Equipment(k)
		if !eq.Registered {
			continue
		}
		sites[k.Site] = true
		e := Entity{Kind: Equipment, Site: k.Site, Line: k.Line, ID: k.Equipment}
		if s.InService != nil {
			e.InService = s.InService(k)
		}
		run := func(d activity.Period) float64 {
			f, _ := s.Engine.EquipmentFigures(k, d)
			return f.RunSeconds()
		}
		out = append(out, s.Equipment.Assign(s.Equipment.Build(e, m, now, s.Location, run)))
	}
	for site := range sites {
		days := map[int64]map[string]float64{}
		ops := map[string]bool{}
		probe := func(d activity.Period) float64 { // gathers every operator's days once
			runs := s.Engine.OperatorRun(site, d)
			days[d.Start.UnixNano()] = runs
			for op := range runs {
				ops[op] = true
			}
			return 0
		}
		s.Operators.Build(Entity{}, m, now, s.Location, probe)
		for op := range ops {
			run := func(d activity.Period) float64 { return days[d.Start.UnixNano()][op] }
			e := Entity{Kind: Operator, Site: site, ID: op}
			out = append(out, s.Operators.Assign(s.Operators.Build(e, m, now, s.Location, run)))
		}
	}
	Sort(out)
	return out
}

// Report is a month's assignments and the moves from the month before.
type Report struct {
	Month       string       `json:"month"`
	Assignments []Assignment `json:"assignments"`
	Transitions []Transition `json:"transitions"`
}

// Report assigns month m and the month before, and counts the moves.
func (s Source) Report(m activity.Period, now time.Time) Report {
	prev := s.Month(activity.MonthOf(m.Start.Add(-time.Hour), s.Location), now)
	cur := s.Month(m, now)
	return Report{Month: m.Name(), Assignments: cur, Transitions: Transitions(prev, cur)}
}
