package plant

import (
	"sort"
	"time"
)

// Truth is what the simulated plant really did: per machine its run time and
// its time in each state by local day and month within [Start, End), per
// operator the machine run time while logged in (split equally among the
// operators logged in to a machine together) by local month, and the
// injected faults and planned stops. It is computed from exactly the events
// the plant emitted and the lines' shifts, so a consumer that counted every
// event right gets the same figures.
type Truth struct {
	Site         string             `json:"site"`
	Timezone     string             `json:"timezone"`
	Equipment    []EquipmentTruth   `json:"equipment"`
	Operators    []OperatorTruth    `json:"operators"`
	Faults       []FaultTruth       `json:"faults"`
	PlannedStops []PlannedStopTruth `json:"planned_stops"`
	// Breakdowns lists every breakdown with its precursor (none for a
	// sudden one); only with degradation.
	Breakdowns []BreakdownTruth `json:"breakdowns,omitempty"`
}

// EquipmentTruth is one machine's run time and states.
type EquipmentTruth struct {
	Line      string                 `json:"line"`
	Equipment string                 `json:"equipment"`
	Class     string                 `json:"class"`
	Source    string                 `json:"source"`
	Start     time.Time              `json:"start"`
	End       time.Time              `json:"end"`
	Months    map[string]PeriodTruth `json:"months"`
	Days      map[string]PeriodTruth `json:"days"`
	// IdealCycleMs is the ideal cycle time per part; EnergyMeter tells
	// whether the machine publishes an energy meter (all publish power).
	IdealCycleMs int64 `json:"ideal_cycle_ms"`
	EnergyMeter  bool  `json:"energy_meter"`
}

// PeriodTruth is a machine's run time in one local day or month, in
// milliseconds, and its time in each state.
type PeriodTruth struct {
	RunMs  int64   `json:"run_ms"`
	States StateMs `json:"states"`
	// DownByAlarm (months only) splits States.Down by the alarm code the
	// machine reported meanwhile; a machine reports an alarm code exactly
	// while it reports down, so the codes add up to States.Down.
	DownByAlarm map[string]int64 `json:"down_by_alarm_ms,omitempty"`
	// Production (months only): parts, OEE factors and energy.
	Production *ProductionTruth `json:"production,omitempty"`
}

// StateMs is the time in each state over a period, in milliseconds, by the
// rules the hub documents ("One state per instant"): running while the
// machine reports running; otherwise no_shift outside every shift instance of
// its line, planned_stop inside an injected planned stop, else the reported
// state (idle, setup or down). Unknown is the part of the period outside the
// machine's [Start, End). The states add up to the period's calendar length
// (a DST day is 23 or 25 h).
type StateMs struct {
	Running     int64 `json:"running_ms"`
	Idle        int64 `json:"idle_ms"`
	Setup       int64 `json:"setup_ms"`
	Down        int64 `json:"down_ms"`
	PlannedStop int64 `json:"planned_stop_ms"`
	NoShift     int64 `json:"no_shift_ms"`
	Unknown     int64 `json:"unknown_ms"`
}

// Total is the sum of all states.
func (s StateMs) Total() int64 {
	return s.Running + s.Idle + s.Setup + s.Down + s.PlannedStop + s.NoShift + s.Unknown
}

// add books ms in the state named st (running, idle, setup, down,
// planned_stop or no_shift).
func (s *StateMs) add(st string, ms int64) {
	if p := byState(st, &s.Running, &s.Idle, &s.Setup, &s.Down, &s.PlannedStop, &s.NoShift); p != nil {
		*p += ms
	}
}

// byState returns the field of a per-state table that holds the state named
// st (running, idle, setup, down, planned_stop or no_shift); nil for any other.
func byState[T any](st string, running, idle, setup, down, planned, noShift *T) *T {
	switch st {
	case Running:
		return running
	case Idle:
		return idle
	case Setup:
		return setup
	case Down:
		return down
	case PlannedStopState:
		return planned
	case NoShiftState:
		return noShift
	}
	return nil
}

// OperatorTruth is one operator's sessions and run time.
type OperatorTruth struct {
	Operator string                `json:"operator"`
	Sessions []Session             `json:"sessions"`
	Months   map[string]RunSeconds `json:"months"`
}

// Session is an operator logged in at a machine over [Start, End).
type Session struct {
	Line      string    `json:"line"`
	Equipment string    `json:"equipment"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
}

// RunSeconds is an operator's share of machine run time in seconds.
type RunSeconds struct {
	RunSeconds float64 `json:"run_seconds"`
}

// States the truth counts besides the reported ones.
const (
	PlannedStopState = "planned_stop"
	NoShiftState     = "no_shift"
)

// account accumulates one machine's truth from the values it published.
type account struct {
	loc     *time.Location
	line    *line
	name    string
	start   time.Time
	last    time.Time
	st      string // reported state
	alarm   string // reported alarm code
	ops     []string
	opSince map[string]time.Time
	days    map[string]int64
	months  map[string]int64
	daySt   map[string]*StateMs
	monthSt map[string]*StateMs
	// monthAlarm: month -> alarm code -> down ms
	monthAlarm map[string]map[string]int64
	kw         float64                       // power drawn since last
	monthKWh   map[string]*StateKWh          // month -> energy drawn by state
	monthParts map[string]*[2]float64        // month -> good, scrap
	lastParts  *[2]float64                   // the last reading's good and scrap made
	opMonths   map[string]map[string]float64 // operator -> month -> ms
	sessions   map[string][]Session          // operator -> sessions
	cuts       []time.Time                   // scratch
}

func newAccount(loc *time.Location, l *line, name string, start time.Time, opMonths map[string]map[string]float64, sessions map[string][]Session) *account {
	return &account{loc: loc, line: l, name: name, start: start, last: start,
		opSince: map[string]time.Time{}, days: map[string]int64{}, months: map[string]int64{},
		daySt: map[string]*StateMs{}, monthSt: map[string]*StateMs{}, monthAlarm: map[string]map[string]int64{},
		monthKWh: map[string]*StateKWh{}, monthParts: map[string]*[2]float64{},
		opMonths: opMonths, sessions: sessions}
}

// observe books [last, t) with the previous values and takes the new ones
// (st is the reported state, alarm the reported alarm code, kw the power
// drawn from t on).
func (a *account) observe(t time.Time, st string, ops []string, alarm string, kw float64) {
	if a.st != "" && t.After(a.last) {
		run := a.st == Running
		n := float64(len(a.ops))
		splitDayRanges(a.last, t, a.loc, func(lo, hi time.Time, day, month string) {
			ms := hi.Sub(lo).Milliseconds()
			if run {
				a.days[day] += ms
				a.months[month] += ms
				for _, op := range a.ops {
					a.opMonths[op][month] += float64(ms) / n
				}
			}
			a.bookStates(lo, hi, day, month)
		})
	}
	now := map[string]bool{}
	for _, op := range ops {
		now[op] = true
		if _, ok := a.opSince[op]; !ok {
			a.opSince[op] = t
		}
	}
	for op, since := range a.opSince {
		if !now[op] {
			a.closeSession(op, since, t)
		}
	}
	a.last, a.st, a.alarm, a.ops, a.kw = t, st, alarm, append(a.ops[:0], ops...), kw
}

// reading books the parts a counter reading at t shows: the good parts and
// scrap made since the previous reading, in the month of t (a part counts
// when a reading shows it, as the hub counts it).
func (a *account) reading(t time.Time, good, scrap float64) {
	if a.lastParts != nil {
		month := t.In(a.loc).Format("2006-01")
		p := a.monthParts[month]
		if p == nil {
			p = &[2]float64{}
			a.monthParts[month] = p
		}
		p[0] += good - a.lastParts[0]
		p[1] += scrap - a.lastParts[1]
	}
	a.lastParts = &[2]float64{good, scrap}
}

// bookEnergy books the energy drawn over d ms in the state st.
func (a *account) bookEnergy(month, st string, d int64) {
	e := a.monthKWh[month]
	if e == nil {
		e = &StateKWh{}
		a.monthKWh[month] = e
	}
	e.add(st, a.kw*float64(d)/3.6e6)
}

// bookStates books [lo, hi), within one local day, by the hub's state rules.
func (a *account) bookStates(lo, hi time.Time, day, month string) {
	ds, ms := a.daySt[day], a.monthSt[month]
	if ds == nil {
		ds = &StateMs{}
		a.daySt[day] = ds
	}
	if ms == nil {
		ms = &StateMs{}
		a.monthSt[month] = ms
	}
	if a.st == Running {
		d := hi.Sub(lo).Milliseconds()
		ds.Running += d
		ms.Running += d
		a.bookEnergy(month, Running, d)
		return
	}
	cuts := a.line.cal.cuts(lo, hi, append(a.cuts[:0], lo, hi))
	for _, w := range a.line.stops {
		for _, x := range []time.Time{w.start, w.end} {
			if x.After(lo) && x.Before(hi) {
				cuts = append(cuts, x)
			}
		}
	}
	sort.Slice(cuts, func(i, j int) bool { return cuts[i].Before(cuts[j]) })
	a.cuts = cuts
	for i := 0; i+1 < len(cuts); i++ {
		x, y := cuts[i], cuts[i+1]
		if !y.After(x) {
			continue
		}
		st := a.st
		switch {
		case !a.line.cal.covered(x):
			st = NoShiftState
		case a.line.inStop(x):
			st = PlannedStopState
		}
		d := y.Sub(x).Milliseconds()
		ds.add(st, d)
		ms.add(st, d)
		a.bookEnergy(month, st, d)
		if st == Down {
			byCode := a.monthAlarm[month]
			if byCode == nil {
				byCode = map[string]int64{}
				a.monthAlarm[month] = byCode
			}
			byCode[a.alarm] += d
		}
	}
}

func (a *account) closeSession(op string, since, t time.Time) {
	delete(a.opSince, op)
	if t.After(since) {
		a.sessions[op] = append(a.sessions[op], Session{Line: a.line.cfg.Name, Equipment: a.name, Start: since.UTC(), End: t.UTC()})
	}
}

// finish closes the open sessions at end.
func (a *account) finish(end time.Time) {
	for op, since := range a.opSince {
		a.closeSession(op, since, end)
	}
}

// splitDays calls fn for the parts of [a, b) in each local day.
func splitDays(a, b time.Time, loc *time.Location, fn func(day, month string, ms int64)) {
	splitDayRanges(a, b, loc, func(lo, hi time.Time, day, month string) {
		fn(day, month, hi.Sub(lo).Milliseconds())
	})
}

// splitDayRanges calls fn for the parts [lo, hi) of [a, b) in each local day.
func splitDayRanges(a, b time.Time, loc *time.Location, fn func(lo, hi time.Time, day, month string)) {
	for a.Before(b) {
		l := a.In(loc)
		next := time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc)
		end := b
		if next.Before(end) {
			end = next
		}
		fn(a, end, l.Format("2006-01-02"), l.Format("2006-01"))
		a = end
	}
}

// dayLength and monthLength are the calendar lengths of a local day
// ("2006-01-02") and month ("2006-01") in milliseconds.
func dayLength(day string, loc *time.Location) int64 {
	d, _ := time.ParseInLocation("2006-01-02", day, loc)
	return time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc).Sub(d).Milliseconds()
}

func monthLength(month string, loc *time.Location) int64 {
	m, _ := time.ParseInLocation("2006-01", month, loc)
	return time.Date(m.Year(), m.Month()+1, 1, 0, 0, 0, 0, loc).Sub(m).Milliseconds()
}

// period returns the truth of a day or month: run time, and the states with
// the part outside the machine's span as unknown.
func period(run int64, st *StateMs, length int64) PeriodTruth {
	var s StateMs
	if st != nil {
		s = *st
	}
	s.Unknown = length - s.Total()
	return PeriodTruth{RunMs: run, States: s}
}

// periods returns the local days and months intersecting [a, b).
func periods(a, b time.Time, loc *time.Location) (days, months []string) {
	seen := map[string]bool{}
	splitDays(a, b, loc, func(day, month string, _ int64) {
		days = append(days, day)
		if !seen[month] {
			seen[month] = true
			months = append(months, month)
		}
	})
	return days, months
}

func sortSessions(s []Session) {
	sort.Slice(s, func(i, j int) bool {
		if !s[i].Start.Equal(s[j].Start) {
			return s[i].Start.Before(s[j].Start)
		}
		if s[i].Line != s[j].Line {
			return s[i].Line < s[j].Line
		}
		return s[i].Equipment < s[j].Equipment
	})
}
