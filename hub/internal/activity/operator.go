package activity

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/state"
)

// OperatorRun returns, for one equipment and period, each operator's run
// seconds: the equipment's running time while the operator was logged in,
// split equally among the operators logged in together. Every operator
// logged in during the period is in the map, with 0 when the equipment did
// not run.
func OperatorRun(tl *state.Timeline, cal *calendar.Calendar, p Period) map[string]float64 {
	if tl == nil {
		return nil
	}
	a, b := p.Start.UnixNano(), p.End.UnixNano()
	ops := tl.OpSegments(a, b)
	if len(ops) == 0 {
		return nil
	}
	var spans []calendar.Span
	if cal != nil {
		spans = cal.Spans(a, b)
	}
	segs := tl.Segments(a, b, spans)
	out := map[string]float64{}
	i := 0
	for _, o := range ops {
		for _, op := range o.Ops { // logged in without run time still counts as present
			out[op] += 0
		}
		for i < len(segs) && segs[i].End <= o.Start {
			i++
		}
		for j := i; j < len(segs) && segs[j].Start < o.End; j++ {
			if segs[j].State != state.Running {
				continue
			}
			lo, hi := max(segs[j].Start, o.Start), min(segs[j].End, o.End)
			if hi > lo {
				share := float64(hi-lo) / 1e9 / float64(len(o.Ops))
				for _, op := range o.Ops {
					out[op] += share
				}
			}
		}
	}
	return out
}

// OperatorFigures are one operator's figures on one line (or, with Line
// empty, the whole site) for one period.
type OperatorFigures struct {
	Site, Line, Operator string
	Period               Period
	RunSeconds           float64 // run time while logged in (shared equally)
	GroupRunSeconds      float64 // run time of the line's (or site's) equipment
	Threshold            time.Duration
	Tier                 string
	Attrition            bool
	AttritionReason      string
}

// Share is the operator's contribution: run seconds over the line's (site's).
func (o OperatorFigures) Share() (float64, bool) { return ratio(o.RunSeconds, o.GroupRunSeconds) }

// Active reports whether the operator's run time reached the threshold.
func (o OperatorFigures) Active() bool { return o.RunSeconds >= o.Threshold.Seconds() }

// AttritionRule says when an operator's monthly activity is a sustained decline.
type AttritionRule struct {
	// Months: the run hours fell in each of the last Months months.
	Months int
	// Drop: and the latest month is at least this fraction below the mean of
	// the operator's earlier months (at most History of them, at least 2).
	Drop    float64
	History int
}

// Risk applies the rule to an operator's monthly run hours, oldest first, the
// last being the month judged. It says why when it flags.
func (r AttritionRule) Risk(hours []float64) (bool, string) {
	n := len(hours)
	if r.Months < 1 || n < r.Months+2 {
		return false, ""
	}
	for i := n - r.Months; i < n; i++ {
		if !(hours[i] < hours[i-1]) {
			return false, ""
		}
	}
	base := hours[max(0, n-r.Months-r.History) : n-r.Months]
	var sum float64
	for _, h := range base {
		sum += h
	}
	mean := sum / float64(len(base))
	if len(base) < 2 || mean <= 0 || hours[n-1] > (1-r.Drop)*mean {
		return false, ""
	}
	var recent []string
	for _, h := range hours[n-r.Months-1:] {
		recent = append(recent, fmt.Sprintf("%.1fh", h))
	}
	return true, fmt.Sprintf("run hours fell %d months in a row (%s); %.1fh is %.0f%% below the mean of the %d months before (%.1fh)",
		r.Months, strings.Join(recent, " > "), hours[n-1], 100*(1-hours[n-1]/mean), len(base), mean)
}

// SortOperators orders operator figures by site, line (site-wide first), operator and period.
func SortOperators(ofs []OperatorFigures) {
	sort.Slice(ofs, func(i, j int) bool {
		a, b := ofs[i], ofs[j]
		if a.Site != b.Site {
			return a.Site < b.Site
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Operator != b.Operator {
			return a.Operator < b.Operator
		}
		return a.Period.Start.Before(b.Period.Start)
	})
}
