// Package api serves the hub's figures as JSON (and a plain HTML page) over
// HTTP, computed from the same engine that feeds InfluxDB.
//
//	GET /healthz                 200 while the process runs
//	GET /readyz                  200 when connected to NATS
//	GET /metrics                 (served beside this handler: package metrics)
//	GET /api/v1/months/{YYYY-MM} monthly figures: equipment, lines, site
//	GET /api/v1/months/{YYYY-MM}/operators
//	                             monthly operator figures, per line and site
//	GET /api/v1/months/{YYYY-MM}/report?format=html|pdf|csv&lang=en|zh-CN
//	                             the monthly report (with WithReport)
//	GET /api/v1/months           the months that hold data
//	POST /api/v1/recompute?from=YYYY-MM[-DD]&to=YYYY-MM[-DD]
//	                             rewrite a range's figures (with WithRecompute)
//	GET /api/v1/recompute        progress of the running or latest recompute
//	GET /                        the current and previous month as HTML tables
//
// Who may use which route is decided in front of this handler (package
// auth); pages set their own Content-Security-Policy (auth.PagePolicy),
// allowing their inline style by its hash and no script.
package api

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/auth"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
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
	mux.HandleFunc("POST /api/v1/recompute", h.startRecompute)
	mux.HandleFunc("GET /api/v1/recompute", h.recomputeStatus)
	mux.HandleFunc("GET /{$}", h.page)
	mux.HandleFunc("GET /lines/{line}", h.board)
	mux.HandleFunc("GET /api/v1/lines/{line}/now", h.lineNowJSON)
	if h.report != nil {
		mux.Handle("GET /api/v1/months/{month}/report", h.report)
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
	// IdleRunningHours: running without a count increase for long enough;
	// absent for equipment without a count signal.
	IdleRunningHours *float64 `json:"idle_running_hours,omitempty"`
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
	// IdleRunningHours sums the idle running of the group's equipment.
	IdleRunningHours float64 `json:"idle_running_hours"`
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
		Equipment: []EquipmentJSON{}, Lines: []LineJSON{}, Site: LineJSON{Site: site, Tiers: map[string]int{}}}
	for _, e := range ems {
		ej := EquipmentJSON{Site: e.Key.Site, Line: e.Key.Line, Equipment: e.Key.Equipment,
			Class: e.Class, Registered: e.Registered, RunSeconds: e.RunSeconds(), RunHours: e.RunHours(),
			Active: e.Active(), Utilization: e.Utilization(), Coverage: e.Coverage(), Failures: e.Failures,
			StateHours: map[string]float64{}}
		if v, ok := e.Availability(); ok {
			ej.Availability = &v
		}
		if e.HasCounter {
			v := e.IdleRunSeconds / 3600
			ej.IdleRunningHours = &v
		}
		for i, s := range e.Seconds {
			ej.StateHours[state.State(i).String()] = s / 3600
		}
		out.Equipment = append(out.Equipment, ej)
	}
	for _, l := range rollups {
		lj := LineJSON{Site: l.Site, Line: l.Line, Registered: l.Registered, Active: l.Active,
			ActiveRate: l.ActiveRate(), RunHours: l.RunSeconds() / 3600, Tiers: l.Tiers, Failures: l.Failures,
			IdleRunningHours: l.IdleRunSeconds / 3600}
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

// pageStyle is the style of the months page (allowed by its hash in the
// page's Content-Security-Policy).
const pageStyle = `body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#eee}td:first-child,td:nth-child(2){text-align:left}.no{color:#999}`

var page = template.Must(template.New("page").Funcs(template.FuncMap{
	"pct": func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
	"h":   func(f float64) string { return fmt.Sprintf("%.1f", f) },
}).Parse(`<!doctype html><html><head><meta charset="utf-8"><title>floorpulse</title>
<meta http-equiv="refresh" content="15">
<style>` + pageStyle + `</style></head><body>
<h1>floorpulse: monthly activity</h1>
{{range .}}<h2>{{.Month}} ({{h .CalendarHours}} h, {{.Timezone}})</h2>
<p>Site: {{.Site.Active}} of {{.Site.Registered}} registered machines active, active rate {{pct .Site.ActiveRate}}, {{h .Site.RunHours}} run hours.</p>
<p>Monthly report: <a href="/api/v1/months/{{.Month}}/report">HTML</a> · <a href="/api/v1/months/{{.Month}}/report?format=pdf">PDF</a> · <a href="/api/v1/months/{{.Month}}/report?format=csv">CSV</a></p>
<table><tr><th>line</th><th>registered</th><th>active</th><th>active rate</th><th>run hours</th></tr>
{{range .Lines}}<tr><td><a href="/lines/{{.Line}}">{{.Line}}</a></td><td>{{.Registered}}</td><td>{{.Active}}</td><td>{{pct .ActiveRate}}</td><td>{{h .RunHours}}</td></tr>{{end}}</table>
<table><tr><th>line</th><th>equipment</th><th>class</th><th>run hours</th><th>active</th><th>utilization</th><th>data coverage</th></tr>
{{range .Equipment}}<tr{{if not .Registered}} class="no"{{end}}><td>{{.Line}}</td><td>{{.Equipment}}{{if not .Registered}} (not registered){{end}}</td><td>{{.Class}}</td><td>{{h .RunHours}}</td><td>{{if .Active}}yes{{else}}no{{end}}</td><td>{{pct .Utilization}}</td><td>{{pct .Coverage}}</td></tr>{{end}}</table>
{{end}}<p>JSON: <a href="/api/v1/months">/api/v1/months</a>; <a href="/login">log in or out</a></p></body></html>`))

func (h *handler) page(w http.ResponseWriter, _ *http.Request) {
	var months []MonthJSON
	if _, last, ok := h.eng.Span(); ok {
		cur := activity.MonthOf(last, h.loc)
		prev := activity.MonthOf(cur.Start.Add(-time.Hour), h.loc)
		months = append(months, h.build(cur), h.build(prev))
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", auth.PagePolicy(pageStyle))
	_ = page.Execute(w, months)
}
