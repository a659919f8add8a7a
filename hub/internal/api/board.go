package api

import (
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/auth"
	"github.com/floorpulse/floorpulse/hub/internal/state"
)

// OpenEvents lists a line's open (or acknowledged, not resolved) events.
type OpenEvents func(site, line string) []anomaly.Record

// WithOpenEvents shows a line's open events on its board.
func WithOpenEvents(f OpenEvents) Option { return func(h *handler) { h.openEvents = f } }

// MachineNowJSON is one machine on a line's live board.
type MachineNowJSON struct {
	Equipment  string             `json:"equipment"`
	Class      string             `json:"class"`
	Registered bool               `json:"registered"`
	State      string             `json:"state"`
	Since      *time.Time         `json:"since,omitempty"`
	LastSeen   *time.Time         `json:"last_seen,omitempty"`
	TodayHours map[string]float64 `json:"today_state_hours"`
	TodayRun   float64            `json:"today_run_hours"`
}

// LineNowJSON is the answer of /api/v1/lines/{line}/now.
type LineNowJSON struct {
	Site     string           `json:"site"`
	Line     string           `json:"line"`
	Now      time.Time        `json:"now"`
	Shift    string           `json:"shift"`
	Machines []MachineNowJSON `json:"machines"`
	Events   []anomaly.Record `json:"open_events"`
}

func (h *handler) lineNow(line string, now time.Time) LineNowJSON {
	out := LineNowJSON{Site: h.site, Line: line, Now: now.In(h.loc), Machines: []MachineNowJSON{}, Events: []anomaly.Record{}}
	for _, n := range h.eng.Line(h.site, line, now) {
		out.Shift = n.Shift
		m := MachineNowJSON{Equipment: n.Equipment.Key.Equipment, Class: n.Equipment.Class, Registered: n.Equipment.Registered,
			State: n.State.String(), TodayHours: map[string]float64{}, TodayRun: n.Today.RunHours()}
		if !n.Since.IsZero() {
			s := n.Since
			m.Since = &s
		}
		if !n.LastSeen.IsZero() {
			l := n.LastSeen
			m.LastSeen = &l
		}
		for i, s := range n.Today.Seconds {
			if s > 0 {
				m.TodayHours[stateName(i)] = s / 3600
			}
		}
		out.Machines = append(out.Machines, m)
	}
	if h.openEvents != nil {
		out.Events = append(out.Events, h.openEvents(h.site, line)...)
	}
	return out
}

func (h *handler) lineNowJSON(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, h.lineNow(r.PathValue("line"), time.Now()))
}

func (h *handler) board(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", auth.PagePolicy(boardStyle))
	_ = boardPage.Execute(w, h.lineNow(r.PathValue("line"), time.Now()))
}

// boardStyle is the style of a line's board.
const boardStyle = `body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #ccc;padding:4px 8px}th{background:#eee}
.running{background:#c8f0c8}.idle{background:#fff3c0}.setup{background:#d8e4ff}.down{background:#f8c0c0}.planned_stop,.no_shift{background:#e8e8e8}.unknown{background:#fff;color:#999}`

var boardPage = template.Must(template.New("board").Funcs(template.FuncMap{
	"h":  func(f float64) string { return template.HTMLEscapeString(fmtHours(f)) },
	"hm": func(t *time.Time) string { return hm(t) },
}).Parse(`<!doctype html><html><head><meta charset="utf-8"><title>floorpulse: line {{.Line}}</title>
<meta http-equiv="refresh" content="5">
<style>` + boardStyle + `</style></head><body>
<h1>Line {{.Line}} ({{.Site}}){{if .Shift}}, shift {{.Shift}}{{end}}</h1>
<table><tr><th>equipment</th><th>state</th><th>since</th><th>last word</th><th>run hours today</th></tr>
{{range .Machines}}<tr><td>{{.Equipment}}{{if not .Registered}} (not registered){{end}}</td><td class="{{.State}}">{{.State}}</td><td>{{hm .Since}}</td><td>{{hm .LastSeen}}</td><td>{{h .TodayRun}}</td></tr>{{end}}</table>
<h2>Open events</h2>
{{if .Events}}<table><tr><th>type</th><th>severity</th><th>equipment</th><th>since</th><th>status</th><th>why</th></tr>
{{range .Events}}<tr><td>{{.Type}}</td><td>{{.Severity}}</td><td>{{.Equipment}}</td><td>{{.Start.Format "15:04:05"}}</td><td>{{.Status}}{{if .AcknowledgedBy}} by {{.AcknowledgedBy}}{{end}}</td><td>{{.Reason}} <a href="/api/v1/events/{{.ID}}/ack">acknowledge</a></td></tr>{{end}}</table>
{{else}}<p>None.</p>{{end}}
<p>JSON: <a href="/api/v1/lines/{{.Line}}/now">/api/v1/lines/{{.Line}}/now</a>; months: <a href="/">/</a></p></body></html>`))

func hm(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.Format("2006-01-02 15:04:05")
}

func stateName(i int) string { return state.State(i).String() }

func fmtHours(f float64) string { return fmt.Sprintf("%.2f", f) }
