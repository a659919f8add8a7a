package web

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
	"github.com/floorpulse/floorpulse/hub/internal/segment"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// rankCount is how many best and worst machines the overview shows.
const rankCount = 5

// lineRow is a line of the overview: this month, the month before, and its
// open events.
type lineRow struct {
	Cur, Prev api.LineJSON
	HasPrev   bool
	Open      int
}

// overviewPage is what the overview shows.
type overviewPage struct {
	Cur, Prev   api.MonthJSON
	Lines       []lineRow
	Open        int
	Best, Worst []api.EquipmentJSON
	ReportBase  string
	Segments    *segmentsView
	// Periods are the site's days and shifts of the month.
	Periods *periodsView
}

func (h *handler) overview(w http.ResponseWriter, r *http.Request) {
	v, l := h.start(w, r, "overview")
	m, all := h.month(r)
	v.Title, v.Month, v.Months = l.T("overview.title"), m.Name(), all
	// The segments and the site's days and shifts are computed while the
	// trend is: each only reads.
	var segs *segmentsView
	var periods *periodsView
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		segs = h.segments(segment.Equipment, "", m, v.Lang, v.CanAct && v.HasActions)
	}()
	go func() {
		defer wg.Done()
		periods = h.periods(m, engine.Scope{Site: h.opts.Site})
	}()
	tr, full := h.trend(m, 12)
	wg.Wait()
	p := overviewPage{Cur: full[len(full)-1], Prev: full[len(full)-2], ReportBase: "/api/v1/months/" + url.PathEscape(m.Name()) + "/report"}
	prev := map[string]api.LineJSON{}
	for _, lj := range p.Prev.Lines {
		prev[lj.Line] = lj
	}
	open := map[string]int{}
	for _, e := range h.openEvents(h.opts.Site, "") {
		open[e.Line]++
	}
	for _, lj := range p.Cur.Lines {
		pl, ok := prev[lj.Line]
		row := lineRow{Cur: lj, Prev: pl, HasPrev: ok, Open: open[lj.Line]}
		p.Open += row.Open
		p.Lines = append(p.Lines, row)
	}
	var reg []api.EquipmentJSON
	for _, e := range p.Cur.Equipment {
		if e.Registered {
			reg = append(reg, e)
		}
	}
	sort.SliceStable(reg, func(i, j int) bool { return reg[i].RunHours > reg[j].RunHours })
	p.Best = reg[:min(rankCount, len(reg))]
	for i := len(reg) - 1; i >= 0 && len(p.Worst) < rankCount; i-- {
		p.Worst = append(p.Worst, reg[i])
	}
	p.Segments, p.Periods = segs, periods
	v.P = p
	v.Data = map[string]any{"trend": tr, "i18n": h.pages.cats[v.Lang], "zone": h.opts.Location.String(), "oee": p.Cur.Site.OEE,
		"oee_days": p.Periods.days()}
	h.render(w, v)
}

// machineRow is a machine of a line with its run hours per day.
type machineRow struct {
	api.EquipmentJSON
	Days []float64 `json:"days"`
}

// linePage is what a line's page shows.
type linePage struct {
	Line     api.LineJSON
	Machines []machineRow
	Day      string
	Days     []string
	// Span is the timeline's: "day", "week" (the 7 days to Day) or the
	// name of a shift starting on Day; Shifts are those shifts.
	Span   string
	Shifts []string
	// Events are the latest of the timeline's events (at most maxLineEvents;
	// More: there are others, on the events page).
	Events []anomaly.Record
	More   bool
	// Segments are the line's machine segments.
	Segments *segmentsView
	// Periods are the line's days and shifts of the month.
	Periods *periodsView
}

// maxLineEvents bounds the events a line's page lists (all are on its timeline).
const maxLineEvents = 50

// timelineSpan is the range of a line's timeline: the day, the week to it,
// or one of the line's shifts starting on it (span), and the span taken.
func (h *handler) timelineSpan(line string, day activity.Period, span string) (from, to time.Time, took string, shifts []string) {
	from, to, took = day.Start, day.End, "day"
	for _, in := range h.opts.Engine.Shifts(h.opts.Site, line, day.Start, day.End) {
		shifts = append(shifts, in.Name)
		if in.Name == span {
			from, to, took = h.at(in.Start), h.at(in.End), span
		}
	}
	if span == "week" {
		y, m, d := day.Start.Date()
		from, took = time.Date(y, m, d-6, 0, 0, 0, 0, h.opts.Location), "week"
	}
	return from, to, took, shifts
}

// ganttRow is one machine's states on a day, for the line's timeline.
type ganttRow struct {
	Equipment string     `json:"equipment"`
	States    []Interval `json:"states"`
}

func (h *handler) line(w http.ResponseWriter, r *http.Request) {
	v, l := h.start(w, r, "line")
	name := r.PathValue("line")
	m, all := h.month(r)
	v.Title, v.Month, v.Months = l.T("line.title", name), m.Name(), all
	mj := api.Month(h.opts.Engine, h.opts.Location, h.opts.Site, m)
	p := linePage{Line: api.LineJSON{Site: h.opts.Site, Line: name}}
	found := false
	for _, lj := range mj.Lines {
		if lj.Line == name {
			p.Line, found = lj, true
		}
	}
	if !found {
		http.NotFound(w, r)
		return
	}
	for d := activity.DayOf(m.Start, h.opts.Location); d.Start.Before(m.End); d = activity.DayOf(d.End, h.opts.Location) {
		p.Days = append(p.Days, d.Name())
	}
	day := h.day(r.URL.Query().Get("day"), m)
	p.Day = day.Name()
	from, to, span, shifts := h.timelineSpan(name, day, r.URL.Query().Get("span"))
	p.Span, p.Shifts = span, shifts
	var gantt []ganttRow
	for _, e := range mj.Equipment {
		if e.Line != name {
			continue
		}
		row := machineRow{EquipmentJSON: e}
		if hist, ok := h.history(name, e.Equipment, m.Start, m.End); ok {
			row.Days = h.runByDay(hist.States, m)
		}
		p.Machines = append(p.Machines, row)
		g := ganttRow{Equipment: e.Equipment}
		if hist, ok := h.history(name, e.Equipment, from, to); ok {
			g.States = hist.States
		}
		gantt = append(gantt, g)
	}
	for _, e := range h.listEvents(ledger.Filter{Site: h.opts.Site, Line: name}, 1000) {
		if overlaps(e, from, to) {
			p.Events = append(p.Events, e)
		}
	}
	pins := nonNil(p.Events)
	if len(p.Events) > maxLineEvents {
		p.Events, p.More = p.Events[:maxLineEvents], true
	}
	p.Segments = h.segments(segment.Equipment, name, m, v.Lang, v.CanAct && v.HasActions)
	p.Periods = h.periods(m, engine.Scope{Site: h.opts.Site, Line: name})
	v.P = p
	v.Data = map[string]any{"i18n": h.pages.cats[v.Lang], "zone": h.opts.Location.String(), "machines": p.Machines,
		"gantt": gantt, "events": pins, "from": from, "to": to, "days": p.Days,
		"alarms": p.Line.DownByAlarm, "oee": p.Line.OEE, "oee_days": p.Periods.days()}
	h.render(w, v)
}

// day reads a day of month m (YYYY-MM-DD); without it, the day of the
// latest data in m (today while m is the current month).
func (h *handler) day(s string, m activity.Period) activity.Period {
	if t, err := time.ParseInLocation("2006-01-02", s, h.opts.Location); err == nil && !t.Before(m.Start) && t.Before(m.End) {
		return activity.DayOf(t, h.opts.Location)
	}
	at := m.End.Add(-time.Hour)
	if _, last, ok := h.opts.Engine.Span(); ok && last.Before(at) && !last.Before(m.Start) {
		at = last
	}
	if now := h.opts.Clock(); now.Before(at) && !now.Before(m.Start) {
		at = now
	}
	return activity.DayOf(at, h.opts.Location)
}

// overlaps reports whether an event overlaps [a, b).
func overlaps(e anomaly.Record, a, b time.Time) bool {
	if !e.Start.Before(b) {
		return false
	}
	return e.End == nil || e.End.After(a)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// machinePage is what a machine's page shows.
type machinePage struct {
	Line string
	Eq   api.EquipmentJSON
	// MTBF and MTTR in hours (ISO 22400-2, from the month's run and down
	// hours and failures); absent without failures.
	MTBF, MTTR *float64
	Sessions   []Session
	// Events are the latest of the month's (at most maxLineEvents; More:
	// there are others, all on the timeline).
	Events []anomaly.Record
	More   bool
	// Trend is the machine's 12 months to this one.
	Trend []trendPoint
	// Segment is the machine's segment of the month with its reason.
	Segment *watchRow
	// Periods are the machine's days and shifts of the month.
	Periods *periodsView
}

// trendPoint is one month of a machine's trend.
type trendPoint struct {
	Month       string   `json:"month"`
	RunHours    float64  `json:"run_hours"`
	Utilization float64  `json:"utilization"`
	Coverage    float64  `json:"coverage"`
	Avail       *float64 `json:"availability"`
	Tier        string   `json:"tier"`
	// OEE is the month's parts, OEE and losses (absent without a counter).
	OEE *api.OEEJSON `json:"oee,omitempty"`
}

// maxSessions bounds the operator sessions listed on a machine's page.
const maxSessions = 300

func (h *handler) machine(w http.ResponseWriter, r *http.Request) {
	v, l := h.start(w, r, "machine")
	line, eq := r.PathValue("line"), r.PathValue("equipment")
	m, all := h.month(r)
	v.Title, v.Month, v.Months = l.T("machine.title", eq), m.Name(), all
	p := machinePage{Line: line}
	k := signal.Key{Site: h.opts.Site, Line: line, Equipment: eq}
	trend := make([]trendPoint, 12)
	for i, pm := 11, m; i >= 0; i, pm = i-1, h.prevMonth(pm) {
		fig, ok := h.opts.Engine.EquipmentFigures(k, pm)
		if !ok {
			http.NotFound(w, r)
			return
		}
		e := api.Equipment(fig)
		e.Tier = h.opts.Engine.Tier(time.Duration(fig.RunSeconds() * 1e9))
		trend[i] = trendPoint{Month: pm.Name(), RunHours: e.RunHours, Utilization: e.Utilization, Coverage: e.Coverage,
			Avail: e.Availability, Tier: e.Tier, OEE: e.OEE}
		if i == 11 {
			p.Eq = e
		}
	}
	if p.Eq.Failures > 0 {
		mtbf := p.Eq.RunHours / float64(p.Eq.Failures)
		mttr := p.Eq.StateHours["down"] / float64(p.Eq.Failures)
		p.MTBF, p.MTTR = &mtbf, &mttr
	}
	hist, _ := h.history(line, eq, m.Start, m.End)
	p.Sessions = hist.Sessions
	if len(p.Sessions) > maxSessions {
		p.Sessions = p.Sessions[len(p.Sessions)-maxSessions:]
	}
	for _, e := range h.listEvents(ledger.Filter{Site: h.opts.Site, Line: line, Equipment: eq}, 1000) {
		if overlaps(e, m.Start, m.End) {
			p.Events = append(p.Events, e)
		}
	}
	pins := nonNil(p.Events)
	if len(p.Events) > maxLineEvents {
		p.Events, p.More = p.Events[:maxLineEvents], true
	}
	p.Trend = trend
	p.Segment = h.segmentOf(line, eq, m, v.Lang)
	p.Periods = h.periods(m, engine.Scope{Site: h.opts.Site, Line: line, Equipment: eq})
	v.P = p
	v.Data = map[string]any{"i18n": h.pages.cats[v.Lang], "zone": h.opts.Location.String(), "states": hist.States,
		"marks": h.dayMarks(pins, m), "days": h.byDay(hist.States, m), "sessions": h.daySessions(hist.Sessions, m), "trend": trend,
		"alarms": p.Eq.DownByAlarm, "oee": p.Eq.OEE, "oee_days": p.Periods.days()}
	h.render(w, v)
}

// operatorsPage is what the operators page shows.
type operatorsPage struct {
	Site     []operatorRow
	Lines    []operatorLine
	Segments *segmentsView
	// Names are the operators' names by id (imported master data).
	Names map[string]string
}

// operatorRow is an operator's site-wide month, with the 12 months to it.
type operatorRow struct {
	api.OperatorJSON
	// ActiveMonths counts the active months of the 12; Hours are the run
	// hours of each, oldest first.
	ActiveMonths int       `json:"active_months"`
	Hours        []float64 `json:"hours"`
}

type operatorLine struct {
	Line string
	Rows []api.OperatorJSON
}

func (h *handler) operators(w http.ResponseWriter, r *http.Request) {
	v, l := h.start(w, r, "operators")
	m, all := h.month(r)
	v.Title, v.Month, v.Months = l.T("operators.title"), m.Name(), all
	// The 12 months to m, site-wide: active months and run hours.
	months := make([]activity.Period, 12)
	for i, pm := 11, m; i >= 0; i, pm = i-1, h.prevMonth(pm) {
		months[i] = pm
	}
	active, hours := map[string]int{}, map[string][]float64{}
	var ops api.OperatorsJSON
	for i, pm := range months {
		mo := api.Operators(h.opts.Engine, h.opts.Location, pm)
		for _, o := range mo.Operators {
			if o.Scope != api.ScopeSite || o.Site != h.opts.Site {
				continue
			}
			if hours[o.Operator] == nil {
				hours[o.Operator] = make([]float64, len(months))
			}
			hours[o.Operator][i] = o.RunHours
			if o.Active != nil && *o.Active {
				active[o.Operator]++
			}
		}
		if i == len(months)-1 {
			ops = mo
		}
	}
	var p operatorsPage
	byLine := map[string][]api.OperatorJSON{}
	for _, o := range ops.Operators {
		if o.Scope == api.ScopeSite {
			if o.Site == h.opts.Site {
				p.Site = append(p.Site, operatorRow{OperatorJSON: o, ActiveMonths: active[o.Operator], Hours: hours[o.Operator]})
			}
			continue
		}
		byLine[o.Line] = append(byLine[o.Line], o)
	}
	sort.SliceStable(p.Site, func(i, j int) bool { return p.Site[i].RunHours > p.Site[j].RunHours })
	for line, rows := range byLine {
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].RunHours > rows[j].RunHours })
		p.Lines = append(p.Lines, operatorLine{Line: line, Rows: rows})
	}
	sort.Slice(p.Lines, func(i, j int) bool { return p.Lines[i].Line < p.Lines[j].Line })
	if h.opts.OperatorNames != nil {
		p.Names = h.opts.OperatorNames()
	}
	p.Segments = h.segments(segment.Operator, "", m, v.Lang, v.CanAct && v.HasActions)
	v.P = p
	v.Data = map[string]any{"i18n": h.pages.cats[v.Lang], "zone": h.opts.Location.String(), "site": nonNil(p.Site)}
	h.render(w, v)
}

// eventsPage is what the events page shows.
type eventsPage struct {
	Filter ledger.Filter
	Lines  []string
	Types  []string
	Events []anomaly.Record
	More   bool
}

// maxEvents bounds the events listed on the events page.
const maxEvents = 300

func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	v, l := h.start(w, r, "events")
	v.Title = l.T("events.title")
	q := r.URL.Query()
	f := ledger.Filter{Site: h.opts.Site, Line: q.Get("line"), Equipment: q.Get("equipment"), Type: q.Get("type"), Status: q.Get("status")}
	p := eventsPage{Filter: f, Lines: h.opts.Engine.Lines(h.opts.Site), Types: anomaly.Types}
	p.Events = h.listEvents(f, maxEvents+1)
	if len(p.Events) > maxEvents {
		p.Events, p.More = p.Events[:maxEvents], true
	}
	v.P = p
	v.Data = map[string]any{"i18n": h.pages.cats[v.Lang], "zone": h.opts.Location.String()}
	h.render(w, v)
}

// dayRow is one day of a machine's month timeline: its states as [hours
// from the day's start, hours to, state].
type dayRow struct {
	Day  string  `json:"day"`
	Segs [][]any `json:"segs"`
}

// byDay cuts states at the local days of month m.
func (h *handler) byDay(states []Interval, m activity.Period) []dayRow {
	var out []dayRow
	now := h.opts.Clock()
	for d := activity.DayOf(m.Start, h.opts.Location); d.Start.Before(m.End) && d.Start.Before(now); d = activity.DayOf(d.End, h.opts.Location) {
		row := dayRow{Day: d.Name(), Segs: [][]any{}}
		for _, s := range states {
			a, b := maxTime(s.Start, d.Start), minTime(s.End, d.End)
			if !b.After(a) {
				continue
			}
			row.Segs = append(row.Segs, []any{a.Sub(d.Start).Hours(), b.Sub(d.Start).Hours(), s.State})
		}
		out = append(out, row)
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// mark is an event pinned on a machine's month timeline: hours from its
// day's start, the day's row, its type.
type mark struct {
	Hours float64 `json:"hours"`
	Row   int     `json:"row"`
	Type  string  `json:"type"`
}

// dayMarks places events on the rows of month m's days (an event begun
// before m at the start of its first day).
func (h *handler) dayMarks(evs []anomaly.Record, m activity.Period) []mark {
	out := []mark{}
	for _, e := range evs {
		at := maxTime(e.Start, m.Start)
		if !at.Before(m.End) {
			continue
		}
		d := activity.DayOf(at, h.opts.Location)
		row := 0
		for p := activity.DayOf(m.Start, h.opts.Location); p.Start.Before(d.Start); p = activity.DayOf(p.End, h.opts.Location) {
			row++
		}
		out = append(out, mark{Hours: at.Sub(d.Start).Hours(), Row: row, Type: e.Type})
	}
	return out
}

// daySessions cuts operator sessions at the local days of month m, as
// [row, hours from the day's start, hours to, operators].
func (h *handler) daySessions(ss []Session, m activity.Period) [][]any {
	out := [][]any{}
	row := 0
	for d := activity.DayOf(m.Start, h.opts.Location); d.Start.Before(m.End); d = activity.DayOf(d.End, h.opts.Location) {
		for _, s := range ss {
			a, b := maxTime(s.Start, d.Start), minTime(s.End, d.End)
			if b.After(a) {
				out = append(out, []any{row, a.Sub(d.Start).Hours(), b.Sub(d.Start).Hours(), strings.Join(s.Operators, ", ")})
			}
		}
		row++
	}
	return out
}
