// Package api serves the hub's figures as JSON over HTTP, computed from the
// same engine that feeds InfluxDB (the pages are package web's).
//
//	GET /healthz                 200 while the process runs
//	GET /readyz                  200 when connected to NATS
//	GET /metrics                 (served beside this handler: package metrics)
//	GET /api/v1/months/{YYYY-MM} monthly figures: equipment, lines, site
//	GET /api/v1/months/{YYYY-MM}/operators
//	                             monthly operator figures, per line and site
//	GET /api/v1/months/{YYYY-MM}/days|shifts[?line=L[&equipment=E]]
//	GET /api/v1/days/{YYYY-MM-DD}/hours|shifts[?line=L[&equipment=E]]
//	                             the figures of a month by day or shift, of a
//	                             day by hour or shift: site, line or equipment
//	GET /api/v1/months/{YYYY-MM}/report?format=html|pdf|csv&lang=en|zh-CN
//	                             the monthly report (with WithReport)
//	GET /api/v1/months           the months that hold data
//	POST /api/v1/recompute?from=YYYY-MM[-DD]&to=YYYY-MM[-DD]
//	                             rewrite a range's figures (with WithRecompute)
//	GET /api/v1/recompute        progress of the running or latest recompute
//	GET /api/v1/lines/{line}/now a line's machines now, with its open events
//	GET /api/v1/months/{YYYY-MM}/segments
//	                             machines' and operators' segments, with reasons and transitions
//	GET|POST /api/v1/actions, GET|PATCH /api/v1/actions/{id}
//	                             actions and their effects (with WithActions; package action)
//
// Who may use which route is decided in front of this handler (package
// auth).
package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/segment"
	"github.com/floorpulse/floorpulse/hub/internal/state"
)

// Conn is the hub's NATS connection as readiness sees it (*nats.Conn).
type Conn interface {
	IsConnected() bool
}

var _ Conn = (*nats.Conn)(nil)

// New returns the hub's HTTP handler; nc may be nil (never ready).
func New(eng *engine.Engine, loc *time.Location, site string, nc Conn, opts ...Option) http.Handler {
	h := &handler{eng: eng, loc: loc, site: site, nc: nc}
	for _, o := range opts {
		o(h)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", h.ready)
	mux.HandleFunc("GET /api/v1/months", h.months)
	mux.HandleFunc("GET /api/v1/months/{month}", h.month)
	mux.HandleFunc("GET /api/v1/months/{month}/operators", h.operators)
	mux.HandleFunc("GET /api/v1/months/{month}/days", h.monthBreakdown(activity.Day))
	mux.HandleFunc("GET /api/v1/months/{month}/shifts", h.monthBreakdown(activity.Shift))
	mux.HandleFunc("GET /api/v1/days/{day}/hours", h.dayBreakdown(activity.Hour))
	mux.HandleFunc("GET /api/v1/days/{day}/shifts", h.dayBreakdown(activity.Shift))
	mux.HandleFunc("POST /api/v1/recompute", h.startRecompute)
	mux.HandleFunc("GET /api/v1/recompute", h.recomputeStatus)
	mux.HandleFunc("GET /api/v1/lines/{line}/now", h.lineNowJSON)
	if h.report != nil {
		mux.Handle("GET /api/v1/months/{month}/report", h.report)
	}
	mux.HandleFunc("GET /api/v1/months/{month}/segments", h.segmentsJSON)
	if h.actions != nil {
		mux.Handle("/api/v1/actions", h.actions)
		mux.Handle("/api/v1/actions/", h.actions)
	}
	if h.events != nil {
		mux.Handle("/api/v1/events", h.events)
		mux.Handle("/api/v1/events/", h.events)
	}
	return mux
}

type handler struct {
	eng    *engine.Engine
	loc    *time.Location
	site   string
	nc     Conn
	rc     Recomputer   // nil: recompute is not enabled
	events http.Handler // nil: no event API
	report http.Handler // nil: no report endpoint

	openEvents OpenEvents // nil: boards show no events

	actions  http.Handler    // nil: no action API
	segments *segment.Source // nil: no segments
	clock    func() time.Time
}

func (h *handler) ready(w http.ResponseWriter, _ *http.Request) {
	if h.nc == nil || !h.nc.IsConnected() {
		http.Error(w, "not connected to nats", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// EquipmentJSON is one equipment month in the API.
type EquipmentJSON struct {
	Site        string  `json:"site"`
	Line        string  `json:"line"`
	Equipment   string  `json:"equipment"`
	Class       string  `json:"class"`
	Registered  bool    `json:"registered"`
	RunSeconds  float64 `json:"run_seconds"`
	RunHours    float64 `json:"run_hours"`
	Active      bool    `json:"active"`
	Utilization float64 `json:"utilization"`
	Coverage    float64 `json:"coverage"`
	// Availability is APT over known planned busy time; absent when there was none.
	Availability *float64 `json:"availability,omitempty"`
	// StateHours are the hours in each state; they add up to the calendar hours.
	StateHours map[string]float64 `json:"state_hours"`
	Failures   int                `json:"failures"`
	// DownByAlarm breaks the down time and failures down by alarm code.
	DownByAlarm []AlarmDownJSON `json:"downtime_by_alarm"`
	// IdleRunningHours: running without a counted part for the configured
	// time; absent when the equipment reports no counter.
	IdleRunningHours *float64 `json:"idle_running_hours,omitempty"`
	// Tier is the month's tier by run hours (high, medium, low, inactive),
	// as the line's tiers count it.
	Tier string `json:"tier,omitempty"`
	// OEE and Energy: parts, OEE and its losses, and energy (production.go).
	OEE    *OEEJSON    `json:"oee,omitempty"`
	Energy *EnergyJSON `json:"energy,omitempty"`
}

// LineJSON is one line month in the API.
type LineJSON struct {
	Site       string  `json:"site"`
	Line       string  `json:"line"`
	Registered int     `json:"registered"`
	Active     int     `json:"active"`
	ActiveRate float64 `json:"active_rate"`
	RunHours   float64 `json:"run_hours"`
	// Tiers counts registered equipment per tier.
	Tiers map[string]int `json:"tiers"`
	// Utilization, Availability and Coverage are absent when the group has
	// no registered equipment (or, for availability, no known busy time).
	Utilization  *float64 `json:"utilization,omitempty"`
	Availability *float64 `json:"availability,omitempty"`
	Coverage     *float64 `json:"coverage,omitempty"`
	Failures     int      `json:"failures"`
	// DownByAlarm sums the equipment's breakdowns by alarm code.
	DownByAlarm []AlarmDownJSON `json:"downtime_by_alarm"`
	// IdleRunningHours sums the idle running of the equipment with counters.
	IdleRunningHours float64 `json:"idle_running_hours"`
	// OEE and Energy: parts, OEE and its losses, and energy (production.go).
	OEE    *OEEJSON    `json:"oee,omitempty"`
	Energy *EnergyJSON `json:"energy,omitempty"`
}

// AlarmDownJSON is the down time of one alarm bucket (activity.AlarmDown):
// Code is the alarm code, "" when no alarm was active, "?" when the alarm
// was not known; Stops counts the down intervals that began under it.
// Buckets come most down time first.
type AlarmDownJSON struct {
	Code    string  `json:"code"`
	Seconds float64 `json:"seconds"`
	Stops   int     `json:"stops"`
}

func alarmDownJSON(ds []activity.AlarmDown) []AlarmDownJSON {
	out := make([]AlarmDownJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, AlarmDownJSON{Code: d.Code, Seconds: d.Seconds, Stops: d.Stops})
	}
	return out
}

// MonthJSON is the answer of /api/v1/months/{month}.
type MonthJSON struct {
	Month         string          `json:"month"`
	Timezone      string          `json:"timezone"`
	CalendarHours float64         `json:"calendar_hours"`
	Equipment     []EquipmentJSON `json:"equipment"`
	Lines         []LineJSON      `json:"lines"`
	Site          LineJSON        `json:"site"`
}

func (h *handler) build(m activity.Period) MonthJSON { return Month(h.eng, h.loc, h.site, m) }

// Month builds the figures of month m as /api/v1/months/{month} answers them.
func Month(eng *engine.Engine, loc *time.Location, site string, m activity.Period) MonthJSON {
	ems, rollups := eng.Month(m)
	out := MonthJSON{Month: m.Name(), Timezone: loc.String(), CalendarHours: m.Hours(),
		Equipment: []EquipmentJSON{}, Lines: []LineJSON{}, Site: LineJSON{Site: site, Tiers: map[string]int{}, DownByAlarm: []AlarmDownJSON{}}}
	for _, e := range ems {
		ej := Equipment(e)
		ej.Tier = eng.Tier(time.Duration(e.RunSeconds() * 1e9))
		out.Equipment = append(out.Equipment, ej)
	}
	for _, l := range rollups {
		lj := LineJSON{Site: l.Site, Line: l.Line, Registered: l.Registered, Active: l.Active,
			ActiveRate: l.ActiveRate(), RunHours: l.RunSeconds() / 3600, Tiers: l.Tiers, Failures: l.Failures,
			IdleRunningHours: l.IdleRunSeconds / 3600, DownByAlarm: alarmDownJSON(l.DownByAlarm),
			OEE: RollupOEE(l), Energy: RollupEnergy(l)}
		if v, ok := l.Availability(); ok {
			lj.Availability = &v
		}
		if v, ok := l.Utilization(); ok {
			lj.Utilization = &v
		}
		if v, ok := l.Coverage(); ok {
			lj.Coverage = &v
		}
		if l.Line == "" {
			if l.Site == site {
				out.Site = lj
			}
			continue
		}
		out.Lines = append(out.Lines, lj)
	}
	return out
}

// Equipment is an equipment's figures as /api/v1/months/{month} answers them.
func Equipment(e activity.Figures) EquipmentJSON {
	ej := EquipmentJSON{Site: e.Key.Site, Line: e.Key.Line, Equipment: e.Key.Equipment,
		Class: e.Class, Registered: e.Registered, RunSeconds: e.RunSeconds(), RunHours: e.RunHours(),
		Active: e.Active(), Utilization: e.Utilization(), Coverage: e.Coverage(), Failures: e.Failures,
		StateHours: map[string]float64{}, DownByAlarm: alarmDownJSON(e.DownByAlarm),
		OEE: EquipmentOEE(e), Energy: EquipmentEnergy(e)}
	if v, ok := e.Availability(); ok {
		ej.Availability = &v
	}
	for i, s := range e.Seconds {
		ej.StateHours[state.State(i).String()] = s / 3600
	}
	if e.HasCounter {
		v := e.IdleRunSeconds / 3600
		ej.IdleRunningHours = &v
	}
	return ej
}

func (h *handler) month(w http.ResponseWriter, r *http.Request) {
	m, err := activity.ParseMonth(r.PathValue("month"), h.loc)
	if err != nil {
		http.Error(w, "month must be YYYY-MM", http.StatusBadRequest)
		return
	}
	writeJSON(w, h.build(m))
}

func (h *handler) months(w http.ResponseWriter, _ *http.Request) {
	names := []string{}
	if first, last, ok := h.eng.Span(); ok {
		for _, m := range activity.MonthsBetween(first, last, h.loc) {
			names = append(names, m.Name())
		}
	}
	writeJSON(w, map[string]any{"months": names})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	writeJSONBody(w, v)
}

func writeJSONBody(w http.ResponseWriter, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
