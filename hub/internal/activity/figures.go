package activity

import (
	"sort"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Equipment is one registered (or reporting) piece of equipment.
type Equipment struct {
	Key        signal.Key
	Class      string
	Registered bool
	// IdealCycle is the ideal cycle time per part (0: not known, so no
	// performance or OEE); RatedPower the rated electrical power in kW (0:
	// not known).
	IdealCycle time.Duration
	RatedPower float64
	// Criticality is the plant's rating of the equipment (e.g. A, B, C).
	Criticality string
	// InService is when the equipment is in service (zero: always). A
	// registered equipment counts in a period only while in service.
	InService Interval
}

// Tiers are the monthly run-hour cut-offs of the tiers; below Low is inactive.
type Tiers struct {
	High, Medium, Low time.Duration
}

// Of returns the tier of a month's run time.
func (t Tiers) Of(run time.Duration) string {
	switch {
	case run >= t.High:
		return "high"
	case run >= t.Medium:
		return "medium"
	case run >= t.Low:
		return "low"
	}
	return "inactive"
}

// Figures are one equipment's figures for one period.
type Figures struct {
	Equipment
	Period Period
	// Seconds in each state; they add up to the period's calendar length.
	Seconds [state.NumStates]float64
	// Failures is the number of down intervals that began in the period.
	Failures int
	// DownByAlarm breaks the down seconds and failures down by the alarm
	// active (AlarmDown), most down time first; empty without down time.
	DownByAlarm []AlarmDown
	// Threshold is the active-month threshold of the equipment's class.
	Threshold time.Duration
	// IdleRunSeconds: running without a counter increase for the configured
	// time (only when HasCounter: the equipment reports a counter).
	IdleRunSeconds float64
	HasCounter     bool
	// Production is the parts and energy (production.go).
	Production
	// OutOfService is the time of the period the equipment was not in
	// service (registered equipment only): it is left out of the period, so
	// Seconds add up to the period's length less it.
	OutOfService float64
}

// RunSeconds is APT, the time running.
func (f Figures) RunSeconds() float64 { return f.Seconds[state.Running] }

// RunHours is APT in hours.
func (f Figures) RunHours() float64 { return f.Seconds[state.Running] / 3600 }

// CalendarSeconds is the period's length less the time out of service.
func (f Figures) CalendarSeconds() float64 { return f.Period.Seconds() - f.OutOfService }

// KnownSeconds is the time covered by data.
func (f Figures) KnownSeconds() float64 { return f.CalendarSeconds() - f.Seconds[state.Unknown] }

// BusySeconds is the known planned busy time: running, idle, setup and down.
func (f Figures) BusySeconds() float64 {
	return f.Seconds[state.Running] + f.Seconds[state.Idle] + f.Seconds[state.Setup] + f.Seconds[state.Down]
}

// Availability is APT / PBT, with PBT the known scheduled time less planned
// stops (unknown time is left out, not counted as available or down); ok is
// false when there was no such time.
func (f Figures) Availability() (float64, bool) { return ratio(f.RunSeconds(), f.BusySeconds()) }

// Utilization is APT over calendar time (in service).
func (f Figures) Utilization() float64 { return f.RunSeconds() / f.CalendarSeconds() }

// Coverage is the share of the period (in service) covered by data.
func (f Figures) Coverage() float64 { return f.KnownSeconds() / f.CalendarSeconds() }

// MTBF is the mean operating time between failures (APT / failures).
func (f Figures) MTBF() (float64, bool) { return ratio(f.RunSeconds(), float64(f.Failures)) }

// MTTR is the mean time to repair (down time / failures).
func (f Figures) MTTR() (float64, bool) { return ratio(f.Seconds[state.Down], float64(f.Failures)) }

// Active reports whether the equipment ran at least its threshold (a monthly figure).
func (f Figures) Active() bool { return f.RunSeconds() >= f.Threshold.Seconds() }

func ratio(a, b float64) (float64, bool) {
	if b <= 0 {
		return 0, false
	}
	return a / b, true
}

// Compute returns one equipment's figures for a period. tl may be nil
// (registered equipment that never reported: unknown throughout); cal may be
// nil (scheduled around the clock).
func Compute(eq Equipment, tl *state.Timeline, cal *calendar.Calendar, p Period, threshold time.Duration) Figures {
	var spans []calendar.Span
	if cal != nil && tl != nil {
		spans = CalendarSpans(cal, p)
	}
	return ComputeSpans(eq, tl, spans, p, threshold)
}

// CalendarSpans cuts a period with a line's calendar as Compute needs it
// (from one nanosecond before the period: that tells whether a down
// interval began in it).
func CalendarSpans(cal *calendar.Calendar, p Period) []calendar.Span {
	return cal.Spans(p.Start.UnixNano()-1, p.End.UnixNano())
}

// ComputeSpans is Compute with the calendar already cut by CalendarSpans
// (nil: around the clock), so equipment of one line share the cut.
//
// A registered equipment in service for part of the period only
// (eq.InService) is computed over that part: the rest is OutOfService, and
// a month's threshold is prorated by the share in service. One not in
// service at all in the period counts as not registered in it.
func ComputeSpans(eq Equipment, tl *state.Timeline, spans []calendar.Span, p Period, threshold time.Duration) Figures {
	eq = eq.InPeriod(p)
	f := Figures{Equipment: eq, Period: p, Threshold: threshold}
	a, b := p.Start.UnixNano(), p.End.UnixNano()
	if eq.Registered && !eq.InService.Open() {
		from, to, _ := eq.InService.Clip(p)
		a, b = from.UnixNano(), to.UnixNano()
		if in := float64(b - a); in < float64(p.End.Sub(p.Start)) {
			f.OutOfService = p.Seconds() - in/1e9
			f.Threshold = time.Duration(float64(threshold) * in / float64(p.End.Sub(p.Start)))
		}
	}
	if tl == nil {
		f.Seconds[state.Unknown] = f.CalendarSeconds()
		return f
	}
	segs := tl.Segments(a-1, b, spans)
	var ns [state.NumStates]int64
	for _, s := range segs {
		lo := max(s.Start, a)
		if s.End > lo {
			ns[s.State] += s.End - lo
		}
		// Segments of one state are merged, so a down segment starting in
		// the period is a new failure; one starting at a-1 began before.
		if s.State == state.Down && s.Start >= a {
			f.Failures++
		}
	}
	for i, v := range ns {
		f.Seconds[i] = float64(v) / 1e9
	}
	f.DownByAlarm = downByAlarm(tl, segs, a, b)
	f.Production = production(tl, segs, a, b)
	return f
}

// Rollup is the figures of a group of registered equipment (a line, or the
// site when Line is empty) for one period.
type Rollup struct {
	Site, Line string
	Period     Period
	Registered int
	Active     int // registered equipment active in the period (monthly)
	Seconds    [state.NumStates]float64
	Failures   int
	// DownByAlarm sums the equipment's breakdowns by alarm (AlarmDown).
	DownByAlarm []AlarmDown
	Tiers       map[string]int // equipment per tier (monthly)
	// IdleRunSeconds sums the idle running of the equipment with counters.
	IdleRunSeconds float64
	// OEEGroup sums parts, OEE losses and energy (production.go).
	OEEGroup
	// CalendarSeconds sums the equipment's calendar time in service (the
	// period's length for equipment in service throughout).
	CalendarSeconds float64
}

// ActiveRate is active over registered equipment (0 when none is registered).
func (r Rollup) ActiveRate() float64 {
	if r.Registered == 0 {
		return 0
	}
	return float64(r.Active) / float64(r.Registered)
}

// RunSeconds is the run time of the group's equipment.
func (r Rollup) RunSeconds() float64 { return r.Seconds[state.Running] }

// Availability is the group's APT over its known planned busy time.
func (r Rollup) Availability() (float64, bool) {
	return ratio(r.Seconds[state.Running], r.Seconds[state.Running]+r.Seconds[state.Idle]+r.Seconds[state.Setup]+r.Seconds[state.Down])
}

// Utilization is the group's APT over its equipment's calendar time.
func (r Rollup) Utilization() (float64, bool) {
	return ratio(r.Seconds[state.Running], r.CalendarSeconds)
}

// Coverage is the share of the group's calendar time covered by data.
func (r Rollup) Coverage() (float64, bool) {
	return ratio(r.CalendarSeconds-r.Seconds[state.Unknown], r.CalendarSeconds)
}

// RollUp aggregates registered equipment figures into line figures and site
// figures (Line empty), sorted by site, line (site first) and period start.
// Unregistered equipment is left out.
func RollUp(figs []Figures, tiers Tiers) []Rollup {
	type key struct {
		site, line string
		kind       string
		start      int64
		shift      string
	}
	acc := map[key]*Rollup{}
	for _, f := range figs {
		if !f.Registered {
			continue
		}
		for _, line := range []string{f.Key.Line, ""} {
			k := key{f.Key.Site, line, f.Period.Kind, f.Period.Start.UnixNano(), f.Period.Shift}
			r := acc[k]
			if r == nil {
				r = &Rollup{Site: f.Key.Site, Line: line, Period: f.Period, Tiers: map[string]int{}}
				acc[k] = r
			}
			r.Registered++
			r.CalendarSeconds += f.CalendarSeconds()
			for i, v := range f.Seconds {
				r.Seconds[i] += v
			}
			r.Failures += f.Failures
			r.DownByAlarm = AddAlarmDown(r.DownByAlarm, f.DownByAlarm)
			r.IdleRunSeconds += f.IdleRunSeconds
			r.add(f)
			if f.Period.Kind == Month {
				if f.Active() {
					r.Active++
				}
				r.Tiers[tiers.Of(time.Duration(f.RunSeconds()*1e9))]++
			}
		}
	}
	out := make([]Rollup, 0, len(acc))
	for _, r := range acc {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Site != b.Site {
			return a.Site < b.Site
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Period.Kind != b.Period.Kind {
			return a.Period.Kind < b.Period.Kind
		}
		return a.Period.Start.Before(b.Period.Start)
	})
	return out
}
