package segment

import (
	"sort"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/state"
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
	// unknown; then a machine is new from its first day with data).
	InService func(signal.Key) time.Time
	// Cache keeps Report's answers for a while (nil: computed every time).
	Cache *Cache
}

// Month returns month m's assignments, sorted, days counted up to now.
func (s Source) Month(m activity.Period, now time.Time) []Assignment {
	return s.assign(m, now, s.days(s.back(m, 0), m, now))
}

// Report is a month's assignments and the moves from the month before.
type Report struct {
	Month       string       `json:"month"`
	Assignments []Assignment `json:"assignments"`
	Transitions []Transition `json:"transitions"`
}

// Report assigns month m and the month before (from one pass over the
// timelines), and counts the moves.
func (s Source) Report(m activity.Period, now time.Time) Report {
	if s.Cache != nil {
		if r, ok := s.Cache.get(m.Name(), now); ok {
			return r
		}
	}
	r := s.report(m, now)
	if s.Cache != nil {
		s.Cache.put(m.Name(), now, r)
	}
	return r
}

func (s Source) report(m activity.Period, now time.Time) Report {
	prevMonth := activity.MonthOf(m.Start.Add(-time.Hour), s.Location)
	d := s.days(s.back(m, 1), m, now)
	prev, cur := s.assign(prevMonth, now, d), s.assign(m, now, d)
	return Report{Month: m.Name(), Assignments: cur, Transitions: Transitions(prev, cur)}
}

// back is the month extra months before the first month the rules look at
// for m.
func (s Source) back(m activity.Period, extra int) activity.Period {
	for range max(s.Equipment.History, s.Operators.History) + extra {
		m = activity.MonthOf(m.Start.Add(-time.Hour), s.Location)
	}
	return m
}

// dayRuns are run seconds per local day start (unix ns): a machine's, and
// each operator's over a site.
type dayRuns struct {
	equipment map[signal.Key]map[int64]float64
	operators map[string]map[string]map[int64]float64 // site, operator
	// seen is the first day a machine had any data (not unknown).
	seen map[signal.Key]int64
	// parts are a machine's good parts per day (machines with a counter).
	parts map[signal.Key]map[int64]float64
}

// days reads every registered machine's history from first's start to the
// end of m (no later than now) once, and sums its run time, and each
// operator's share of it, per local day: what Figures and OperatorRun give
// for each day, from one pass instead of one per day.
func (s Source) days(first, m activity.Period, now time.Time) dayRuns {
	end := m.End
	if now.Before(end) {
		end = now
	}
	var starts []int64
	for _, d := range activity.Between(activity.Day, first.Start, end.Add(-time.Nanosecond), s.Location, nil) {
		starts = append(starts, d.Start.UnixNano())
	}
	out := dayRuns{equipment: map[signal.Key]map[int64]float64{}, operators: map[string]map[string]map[int64]float64{}, seen: map[signal.Key]int64{},
		parts: map[signal.Key]map[int64]float64{}}
	if len(starts) == 0 {
		return out
	}
	from := time.Unix(0, starts[0])
	dayEnd := activity.DayOf(time.Unix(0, starts[len(starts)-1]), s.Location).End
	// spread adds f(day start, seconds) for each day [lo, hi) touches.
	last := dayEnd.UnixNano()
	spread := func(lo, hi int64, f func(day int64, secs float64)) {
		lo, hi = max(lo, starts[0]), min(hi, last)
		i := sort.Search(len(starts), func(i int) bool { return starts[i] > lo }) - 1 // the day holding lo
		for ; lo < hi; i++ {
			next := last
			if i+1 < len(starts) {
				next = starts[i+1]
			}
			e := min(hi, next)
			f(starts[i], float64(e-lo)/1e9)
			lo = e
		}
	}
	lines := map[[2]string]bool{}
	for _, k := range s.Engine.Keys() {
		lines[[2]string{k.Site, k.Line}] = true
	}
	hists := map[signal.Key]engine.LineHistory{}
	for l := range lines {
		for k, h := range s.Engine.LineHistories(l[0], l[1], from, dayEnd) {
			hists[k] = h
		}
	}
	for k, h := range hists {
		run := map[int64]float64{}
		out.equipment[k] = run
		if len(h.Counts) > 0 {
			parts := map[int64]float64{}
			out.parts[k] = parts
			for i := 1; i < len(h.Counts); i++ {
				c, prev := h.Counts[i], h.Counts[i-1]
				n := c.V - prev.V
				if n < 0 { // the counter was reset: it counted c.V since
					n = c.V
				}
				if n > 0 {
					spread(c.T, c.T+1, func(d int64, _ float64) { parts[d] += n })
				}
			}
		}
		var running []state.Seg
		for _, seg := range h.States {
			if _, ok := out.seen[k]; !ok && seg.State != state.Unknown && seg.End > seg.Start {
				spread(seg.Start, seg.Start+1, func(d int64, _ float64) { out.seen[k] = d })
			}
			if seg.State == state.Running {
				running = append(running, seg)
				spread(seg.Start, seg.End, func(d int64, secs float64) { run[d] += secs })
			}
		}
		if len(h.Operators) == 0 {
			continue
		}
		ops := out.operators[k.Site]
		if ops == nil {
			ops = map[string]map[int64]float64{}
			out.operators[k.Site] = ops
		}
		i := 0
		for _, o := range h.Operators {
			for _, op := range o.Ops { // logged in without run time still counts as present
				if ops[op] == nil {
					ops[op] = map[int64]float64{}
				}
				spread(o.Start, o.End, func(d int64, _ float64) { ops[op][d] += 0 })
			}
			for i < len(running) && running[i].End <= o.Start {
				i++
			}
			for j := i; j < len(running) && running[j].Start < o.End; j++ {
				lo, hi := max(running[j].Start, o.Start), min(running[j].End, o.End)
				n := float64(len(o.Ops))
				spread(lo, hi, func(d int64, secs float64) {
					for _, op := range o.Ops {
						ops[op][d] += secs / n
					}
				})
			}
		}
	}
	return out
}

// assign applies the rules to every machine and operator for month m.
func (s Source) assign(m activity.Period, now time.Time, d dayRuns) []Assignment {
	var out []Assignment
	for k, run := range d.equipment {
		e := Entity{Kind: Equipment, Site: k.Site, Line: k.Line, ID: k.Equipment}
		if first, ok := d.seen[k]; ok {
			e.FirstSeen = time.Unix(0, first).In(s.Location)
		}
		if s.InService != nil {
			e.InService = s.InService(k)
		}
		h := s.Equipment.Build(e, m, now, s.Location, lookup(run))
		if parts, ok := d.parts[k]; ok {
			h.AddParts(m, now, s.Location, lookup(parts))
		}
		out = append(out, s.Equipment.Assign(h))
	}
	for site, ops := range d.operators {
		for op, run := range ops {
			e := Entity{Kind: Operator, Site: site, ID: op, FirstSeen: firstDay(run, s.Location)}
			out = append(out, s.Operators.Assign(s.Operators.Build(e, m, now, s.Location, lookup(run))))
		}
	}
	Sort(out)
	return out
}

// firstDay is the earliest day of run (an operator's first day logged in).
func firstDay(run map[int64]float64, loc *time.Location) time.Time {
	first := int64(0)
	for d := range run {
		if first == 0 || d < first {
			first = d
		}
	}
	if first == 0 {
		return time.Time{}
	}
	return time.Unix(0, first).In(loc)
}

func lookup(run map[int64]float64) func(activity.Period) float64 {
	return func(d activity.Period) float64 { return run[d.Start.UnixNano()] }
}
