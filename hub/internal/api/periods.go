package api

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/state"
)

// Scopes of a breakdown.
const (
	ScopeEquipment = "equipment"
	// ScopeSite and ScopeLine are defined with the operator figures.
)

// Losses a period's main loss can name (LossJSON's fields).
const (
	LossAvailability = "availability"
	LossPerformance  = "performance"
	LossQuality      = "quality"
)

// BreakdownJSON is a month broken down by day or shift, or a day by hour
// or shift, for the site, a line or an equipment (the answer of
// /api/v1/months/{month}/days|shifts and /api/v1/days/{day}/hours|shifts).
type BreakdownJSON struct {
	// Kind is the periods' kind: day, shift or hour.
	Kind string `json:"kind"`
	// Of is the month (YYYY-MM) or day (YYYY-MM-DD) broken down; From and
	// To its bounds in the plant's zone, CalendarHours its length.
	Of            string    `json:"of"`
	From          time.Time `json:"from"`
	To            time.Time `json:"to"`
	CalendarHours float64   `json:"calendar_hours"`
	Timezone      string    `json:"timezone"`
	// Scope is site, line or equipment, with its names.
	Scope     string `json:"scope"`
	Site      string `json:"site"`
	Line      string `json:"line,omitempty"`
	Equipment string `json:"equipment,omitempty"`
	// Periods are the periods that start in [From, To), in time order.
	Periods []PeriodJSON `json:"periods"`
}

// PeriodJSON is the figures of one hour, shift or day: those of an
// equipment (as EquipmentJSON has them) or of a line's or the site's
// registered equipment (as LineJSON has them).
type PeriodJSON struct {
	// Period is the period's name: 2026-10-25 (day), 2026-10-25T02+01:00
	// (hour, with its offset, so the repeated hour of a DST change has two
	// names), 2026-10-25 early (shift; Shift is its name).
	Period string    `json:"period"`
	Shift  string    `json:"shift,omitempty"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	// CalendarHours is the period's length (a DST day is 23 or 25 h).
	CalendarHours float64 `json:"calendar_hours"`
	RunHours      float64 `json:"run_hours"`
	// StateHours are the hours in each state (summed over a group's
	// equipment); an equipment's add up to its calendar hours in service.
	StateHours   map[string]float64 `json:"state_hours"`
	Utilization  *float64           `json:"utilization,omitempty"`
	Availability *float64           `json:"availability,omitempty"`
	Coverage     *float64           `json:"coverage,omitempty"`
	Failures     int                `json:"failures"`
	// IdleRunningHours: for an equipment absent without a counter.
	IdleRunningHours *float64        `json:"idle_running_hours,omitempty"`
	DownByAlarm      []AlarmDownJSON `json:"downtime_by_alarm"`
	OEE              *OEEJSON        `json:"oee,omitempty"`
	Energy           *EnergyJSON     `json:"energy,omitempty"`
	// MainLoss names the largest of the availability, performance and
	// quality losses (absent without loss hours, or when none is above 0).
	MainLoss string `json:"main_loss,omitempty"`
}

// MainLoss names the largest of a period's availability, performance and
// quality losses ("" without losses above 0); ties go in that order.
func MainLoss(o *OEEJSON) string {
	if o == nil || o.LossHours == nil {
		return ""
	}
	l := o.LossHours
	name, top := "", 0.0
	for _, c := range []struct {
		name string
		v    float64
	}{{LossAvailability, l.Availability}, {LossPerformance, l.Performance}, {LossQuality, l.Quality}} {
		if c.v > top {
			name, top = c.name, c.v
		}
	}
	return name
}

// ErrScope is a breakdown's scope that does not exist; its text names the
// parameter.
type ErrScope struct{ Param, Value, Why string }

func (e ErrScope) Error() string { return fmt.Sprintf("%s %q: %s", e.Param, e.Value, e.Why) }

// Breakdown is the figures of sc over the periods of kind (day, shift or
// hour) that start in of (a month or a day), as the breakdown endpoints
// answer them. The error is an ErrScope when sc names what the engine does
// not know.
func Breakdown(eng *engine.Engine, loc *time.Location, of activity.Period, kind string, sc engine.Scope) (BreakdownJSON, error) {
	out := BreakdownJSON{Kind: kind, Of: of.Name(), From: of.Start, To: of.End, CalendarHours: of.Hours(), Timezone: loc.String(),
		Scope: ScopeSite, Site: sc.Site, Line: sc.Line, Equipment: sc.Equipment, Periods: []PeriodJSON{}}
	switch {
	case sc.Equipment != "":
		out.Scope = ScopeEquipment
	case sc.Line != "":
		out.Scope = ScopeLine
	}
	parts, ok := eng.Breakdown(kind, of.Start, of.End, sc)
	if !ok {
		if sc.Equipment != "" && knownLine(eng, sc.Site, sc.Line) {
			return out, ErrScope{"equipment", sc.Equipment, "no such equipment on line " + sc.Line}
		}
		return out, ErrScope{"line", sc.Line, "no such line"}
	}
	for _, s := range parts {
		var p PeriodJSON
		if sc.Equipment != "" {
			if len(s.Equipment) == 0 {
				continue
			}
			p = equipmentPeriod(s.Equipment[0])
		} else {
			p = rollupPeriod(s.Rollup)
		}
		p.Period, p.Shift, p.Start, p.End, p.CalendarHours = s.Period.Name(), s.Period.Shift, s.Period.Start, s.Period.End, s.Period.Hours()
		p.MainLoss = MainLoss(p.OEE)
		out.Periods = append(out.Periods, p)
	}
	return out, nil
}

func knownLine(eng *engine.Engine, site, line string) bool {
	for _, l := range eng.Lines(site) {
		if l == line {
			return true
		}
	}
	return false
}

func equipmentPeriod(f activity.Figures) PeriodJSON {
	e := Equipment(f)
	u, c := e.Utilization, e.Coverage
	return PeriodJSON{RunHours: e.RunHours, StateHours: e.StateHours, Utilization: &u, Availability: e.Availability, Coverage: &c,
		Failures: e.Failures, IdleRunningHours: e.IdleRunningHours, DownByAlarm: e.DownByAlarm, OEE: e.OEE, Energy: e.Energy}
}

func rollupPeriod(r activity.Rollup) PeriodJSON {
	p := PeriodJSON{RunHours: r.RunSeconds() / 3600, StateHours: map[string]float64{}, Failures: r.Failures,
		DownByAlarm: alarmDownJSON(r.DownByAlarm), OEE: RollupOEE(r), Energy: RollupEnergy(r)}
	for i, s := range r.Seconds {
		p.StateHours[state.State(i).String()] = s / 3600
	}
	p.Utilization, p.Availability, p.Coverage = opt(r.Utilization()), opt(r.Availability()), opt(r.Coverage())
	idle := r.IdleRunSeconds / 3600
	p.IdleRunningHours = &idle
	return p
}

// breakdownParams are the query parameters of the breakdown endpoints.
var breakdownParams = []string{"line", "equipment"}

// scope reads ?line=&equipment= (neither: the site); the error names the
// parameter that is wrong.
func (h *handler) scope(r *http.Request) (engine.Scope, error) {
	q := r.URL.Query()
	var unknown []string
	for k := range q {
		if k != "line" && k != "equipment" {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return engine.Scope{}, fmt.Errorf("unknown parameter %q (want %s)", unknown[0], strings.Join(breakdownParams, ", "))
	}
	for _, k := range breakdownParams {
		if vs := q[k]; len(vs) > 1 || len(vs) == 1 && vs[0] == "" {
			return engine.Scope{}, fmt.Errorf("%s: want one non-empty value", k)
		}
	}
	sc := engine.Scope{Site: h.site, Line: q.Get("line"), Equipment: q.Get("equipment")}
	if sc.Equipment != "" && sc.Line == "" {
		return sc, fmt.Errorf("equipment %q: needs line (an equipment is named within its line)", sc.Equipment)
	}
	return sc, nil
}

// breakdown answers a breakdown of the period the path names into periods
// of kind.
func (h *handler) breakdown(w http.ResponseWriter, r *http.Request, of activity.Period, kind string) {
	sc, err := h.scope(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b, err := Breakdown(h.eng, h.loc, of, kind, sc)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, b)
}

func (h *handler) monthBreakdown(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m, err := activity.ParseMonth(r.PathValue("month"), h.loc)
		if err != nil {
			http.Error(w, fmt.Sprintf("month %q: want YYYY-MM", r.PathValue("month")), http.StatusBadRequest)
			return
		}
		h.breakdown(w, r, m, kind)
	}
}

func (h *handler) dayBreakdown(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t, err := time.ParseInLocation("2006-01-02", r.PathValue("day"), h.loc)
		if err != nil {
			http.Error(w, fmt.Sprintf("day %q: want YYYY-MM-DD", r.PathValue("day")), http.StatusBadRequest)
			return
		}
		h.breakdown(w, r, activity.DayOf(t, h.loc), kind)
	}
}
