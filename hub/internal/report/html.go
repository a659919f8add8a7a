package report

import (
	"html/template"
	"io"
	"sort"
	"strconv"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/api"
)

// Style is the report's style sheet (inline, so the page's
// Content-Security-Policy allows it by its hash).
const Style = `@page{size:A4;margin:14mm 12mm}
body{font-family:"Noto Sans CJK SC","Noto Sans",sans-serif;font-size:10.5pt;color:#222;margin:0 auto;max-width:190mm}
h1{font-size:17pt;margin:0 0 2mm}h2{font-size:12.5pt;margin:7mm 0 2mm;border-bottom:1px solid #999;break-after:avoid}
p{margin:1mm 0 2mm}.meta{color:#555}.note{color:#555;font-size:9pt}
table{border-collapse:collapse;width:100%;margin:1mm 0 3mm;font-size:9pt}
th,td{border:1px solid #ccc;padding:2px 5px;text-align:right}th{background:#eee}
td.l,th.l{text-align:left}tr.site td{font-weight:bold;background:#f6f6f6}tr{break-inside:avoid}
section{break-inside:avoid}svg{display:block;max-width:100%;height:auto}td.waste{color:#b71c1c;background:#fdecec}`

// T is the message of key in the report's language.
func (v view) T(key string) string { return v.c.T(key) }

// view is what the report template shows, already formatted.
type view struct {
	Lang, Title, Heading, MonthName, Site, Timezone, CalendarHours, Summary string
	c                                                                       messages
	Rows                                                                    []figRow
	Trend, BestWorst, Pareto, Operators                                     template.HTML
	ParetoTitle, ParetoNote                                                 string
	HasDowntime, HasOperators                                               bool
	OperatorRows                                                            []opRow
	EventsSummary                                                           string
	Events                                                                  []eventRow
	Machines                                                                []machineRow
	// OEE is the OEE and energy section (production.go), Periods the OEE
	// by day and the worst days and shifts (periods.go).
	OEE, Periods template.HTML
	segmentsView
}

type figRow struct {
	Name, Registered, Active, ActiveRate, RunHours, Utilization, Availability, IdleRunning, Coverage, Failures string
	Site                                                                                                       bool
}

type opRow struct{ Operator, RunHours, Share, Tier, Risk string }

type eventRow struct{ Type, Severity, Where, Start, End, Status string }

type machineRow struct {
	Line, Equipment, Class, RunHours, Active, Utilization, Availability, Coverage, Down, IdleRunning string
}

var reportPage = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} {{.MonthName}}</title><style>{{.Style}}</style></head><body>
<h1>{{.Heading}}</h1>
<p class="meta">{{.T "site"}} {{.Site}} · {{.T "timezone"}} {{.Timezone}} · {{.T "calendar_hours"}} {{.CalendarHours}}</p>
<p><strong>{{.Summary}}</strong></p>
<p class="note">{{.T "generated_from"}}</p>
<section><h2>{{.T "figures"}}</h2>
<table><tr><th class="l">{{.T "line"}}</th><th>{{.T "registered"}}</th><th>{{.T "active"}}</th><th>{{.T "active_rate"}}</th><th>{{.T "run_hours"}}</th><th>{{.T "utilization"}}</th><th>{{.T "availability"}}</th><th>{{.T "idle_running"}}</th><th>{{.T "coverage"}}</th><th>{{.T "failures"}}</th></tr>
{{range .Rows}}<tr{{if .Site}} class="site"{{end}}><td class="l">{{.Name}}</td><td>{{.Registered}}</td><td>{{.Active}}</td><td>{{.ActiveRate}}</td><td>{{.RunHours}}</td><td>{{.Utilization}}</td><td>{{.Availability}}</td><td>{{.IdleRunning}}</td><td>{{.Coverage}}</td><td>{{.Failures}}</td></tr>
{{end}}</table></section>
<section><h2>{{.T "trend"}}</h2>{{.Trend}}</section>
<section><h2>{{.T "best_worst"}}</h2>{{.BestWorst}}</section>
<section><h2>{{.ParetoTitle}}</h2>{{if .HasDowntime}}{{.Pareto}}{{else}}<p>{{.T "no_downtime"}}</p>{{end}}<p class="note">{{.ParetoNote}}</p></section>
{{.OEE}}
{{.Periods}}
<section><h2>{{.T "operators"}}</h2>{{if .HasOperators}}{{.Operators}}
<table><tr><th class="l">{{.T "operator"}}</th><th>{{.T "run_hours"}}</th><th>{{.T "share"}}</th><th>{{.T "tier"}}</th><th class="l">{{.T "attrition_risk"}}</th></tr>
{{range .OperatorRows}}<tr><td class="l">{{.Operator}}</td><td>{{.RunHours}}</td><td>{{.Share}}</td><td>{{.Tier}}</td><td class="l">{{.Risk}}</td></tr>
{{end}}</table>{{else}}<p>{{.T "no_operators"}}</p>{{end}}</section>
<section><h2>{{.T "events"}}</h2>{{if .Events}}<p>{{.EventsSummary}}</p>
<table><tr><th class="l">{{.T "type"}}</th><th class="l">{{.T "severity"}}</th><th class="l">{{.T "equipment"}}</th><th class="l">{{.T "start"}}</th><th class="l">{{.T "end"}}</th><th class="l">{{.T "status"}}</th></tr>
{{range .Events}}<tr><td class="l">{{.Type}}</td><td class="l">{{.Severity}}</td><td class="l">{{.Where}}</td><td class="l">{{.Start}}</td><td class="l">{{.End}}</td><td class="l">{{.Status}}</td></tr>
{{end}}</table>{{else}}<p>{{.T "no_events"}}</p>{{end}}</section>{{template "segments" .}}
<h2>{{.T "machines"}}</h2>
<table><tr><th class="l">{{.T "line"}}</th><th class="l">{{.T "equipment"}}</th><th class="l">{{.T "class"}}</th><th>{{.T "run_hours"}}</th><th>{{.T "active"}}</th><th>{{.T "utilization"}}</th><th>{{.T "availability"}}</th><th>{{.T "coverage"}}</th><th>{{.T "down_hours"}}</th><th>{{.T "idle_running"}}</th></tr>
{{range .Machines}}<tr><td class="l">{{.Line}}</td><td class="l">{{.Equipment}}</td><td class="l">{{.Class}}</td><td>{{.RunHours}}</td><td>{{.Active}}</td><td>{{.Utilization}}</td><td>{{.Availability}}</td><td>{{.Coverage}}</td><td>{{.Down}}</td><td>{{.IdleRunning}}</td></tr>
{{end}}</table>
</body></html>
`))

// bestWorstN is how many machines the best and the worst lists hold each;
// paretoN and operatorsN bound the Pareto and the operator chart.
const (
	bestWorstN = 5
	paretoN    = 12
	operatorsN = 15
)

// HTML writes the report of d in lang as one self-contained HTML page.
func HTML(w io.Writer, d Data, lang string) error {
	v := buildView(d, catalog(lang))
	return reportPage.Execute(w, struct {
		view
		Style template.CSS
	}{v, template.CSS(Style)})
}

func buildView(d Data, c messages) view {
	loc := d.Location
	if loc == nil {
		loc = time.UTC
	}
	v := view{Lang: c.lang, Title: c.T("title"), Site: d.Site.Site, Timezone: d.Timezone,
		CalendarHours: c.Num(d.CalendarHours), c: c}
	if m, err := activity.ParseMonth(d.MonthJSON.Month, loc); err == nil {
		v.MonthName = c.MonthName(m.Start.Year(), m.Start.Month())
	} else {
		v.MonthName = d.MonthJSON.Month
	}
	v.Heading = c.T("heading", v.Title, v.MonthName)
	s := d.Site
	v.Summary = c.T("summary", s.Active, s.Registered, c.Pct(&s.ActiveRate), c.Num(s.RunHours))
	row := func(name string, l api.LineJSON, site bool) figRow {
		return figRow{Name: name, Registered: strconv.Itoa(l.Registered), Active: strconv.Itoa(l.Active),
			ActiveRate: c.Pct(&l.ActiveRate), RunHours: c.Num(l.RunHours), Utilization: c.Pct(l.Utilization),
			Availability: c.Pct(l.Availability), IdleRunning: c.Num(l.IdleRunningHours), Coverage: c.Pct(l.Coverage),
			Failures: strconv.Itoa(l.Failures), Site: site}
	}
	for _, l := range d.Lines {
		v.Rows = append(v.Rows, row(l.Line, l, false))
	}
	v.Rows = append(v.Rows, row(c.T("site_row"), s, true))

	v.Trend = trendChart(d, c, loc)

	var reg []api.EquipmentJSON
	for _, e := range d.Equipment {
		if e.Registered {
			reg = append(reg, e)
		}
	}
	v.BestWorst = bestWorst(reg, c)

	v.ParetoTitle, v.ParetoNote = c.T("pareto"), c.T("pareto_note")
	if hasAlarmCodes(d.Site.DownByAlarm) {
		v.ParetoTitle, v.ParetoNote = c.T("pareto_alarm"), c.T("pareto_alarm_note")
	}

	down := paretoBars(d, c)
	v.HasDowntime = len(down) > 0
	v.Pareto = paretoChart(v.ParetoTitle, c.T("cumulative"), down[:min(len(down), paretoN)])

	var ops []api.OperatorJSON
	for _, o := range d.Operators {
		if o.Line == "" {
			ops = append(ops, o)
		}
	}
	sort.SliceStable(ops, func(i, j int) bool {
		if ops[i].RunHours != ops[j].RunHours {
			return ops[i].RunHours > ops[j].RunHours
		}
		return ops[i].Operator < ops[j].Operator
	})
	v.HasOperators = len(ops) > 0
	var opBars []Bar
	for i, o := range ops {
		share := 0.0
		if o.Share != nil {
			share = *o.Share
		}
		if i < operatorsN {
			opBars = append(opBars, Bar{Label: o.Operator, Value: share, Text: c.Pct(o.Share)})
		}
		risk := ""
		if o.AttritionRisk != nil && *o.AttritionRisk {
			risk = c.T("yes") + ": " + o.AttritionReason
		}
		tier := ""
		if o.Tier != "" {
			tier = c.Name("tier", o.Tier)
		}
		v.OperatorRows = append(v.OperatorRows, opRow{Operator: o.Operator, RunHours: c.Num(o.RunHours), Share: c.Pct(o.Share), Tier: tier, Risk: risk})
	}
	v.Operators = barChart(c.T("operators"), opBars, palette[2])
	v.OEE = productionHTML(d, c)
	v.Periods = periodsHTML(d, c)

	open := 0
	for _, r := range d.Events {
		if !closed(r) {
			open++
		}
		end := ""
		if r.End != nil {
			end = r.End.In(loc).Format("2006-01-02 15:04")
		}
		v.Events = append(v.Events, eventRow{Type: c.Name("type", r.Type), Severity: c.Name("severity", r.Severity),
			Where: r.Line + "/" + r.Equipment, Start: r.Start.In(loc).Format("2006-01-02 15:04"), End: end, Status: c.Name("status", r.Status)})
	}
	v.EventsSummary = c.T("events_summary", len(d.Events), open, len(d.Events)-open)
	v.segmentsView = buildSegments(d, c, loc)

	for _, e := range d.Equipment {
		id := e.Equipment
		if !e.Registered {
			id += " (" + c.T("not_registered") + ")"
		}
		active := c.T("no")
		if e.Active {
			active = c.T("yes")
		}
		idle := "–"
		if e.IdleRunningHours != nil {
			idle = c.Num(*e.IdleRunningHours)
		}
		v.Machines = append(v.Machines, machineRow{Line: e.Line, Equipment: id, Class: e.Class, RunHours: c.Num(e.RunHours),
			Active: active, Utilization: c.Pct(&e.Utilization), Availability: c.Pct(e.Availability), Coverage: c.Pct(&e.Coverage),
			Down: c.Num(e.StateHours["down"]), IdleRunning: idle})
	}
	return v
}

// trendChart is the active rate of every line (and the site) over the trend months.
func trendChart(d Data, c messages, loc *time.Location) template.HTML {
	var labels []string
	lines := map[string]bool{}
	for _, m := range d.Trend {
		if p, err := activity.ParseMonth(m.Month, loc); err == nil {
			labels = append(labels, p.Start.Format("2006-01"))
		} else {
			labels = append(labels, m.Month)
		}
		for _, l := range m.Lines {
			lines[l.Line] = true
		}
	}
	names := make([]string, 0, len(lines))
	for l := range lines {
		names = append(names, l)
	}
	sort.Strings(names)
	var series []Series
	for _, name := range names {
		s := Series{Name: name}
		for _, m := range d.Trend {
			var v *float64
			for _, l := range m.Lines {
				if l.Line == name && l.Registered > 0 {
					r := l.ActiveRate
					v = &r
				}
			}
			s.Values = append(s.Values, v)
		}
		series = append(series, s)
	}
	site := Series{Name: c.T("site_row")}
	for _, m := range d.Trend {
		var v *float64
		if m.Site.Registered > 0 {
			r := m.Site.ActiveRate
			v = &r
		}
		site.Values = append(site.Values, v)
	}
	return lineChart(c.T("trend"), labels, append(series, site))
}

// bestWorst charts the registered machines with the most and the fewest run hours.
func bestWorst(reg []api.EquipmentJSON, c messages) template.HTML {
	sort.SliceStable(reg, func(i, j int) bool {
		if reg[i].RunHours != reg[j].RunHours {
			return reg[i].RunHours > reg[j].RunHours
		}
		return reg[i].Line+"/"+reg[i].Equipment < reg[j].Line+"/"+reg[j].Equipment
	})
	n := min(bestWorstN, (len(reg)+1)/2) // the better half at most, so that both lists show
	var bars []Bar
	bar := func(e api.EquipmentJSON, tag string) Bar {
		return Bar{Label: tag + " " + e.Line + "/" + e.Equipment, Value: e.RunHours, Text: c.Num(e.RunHours) + " " + c.T("hours_unit")}
	}
	for _, e := range reg[:n] {
		bars = append(bars, bar(e, c.T("best")))
	}
	rest := reg[n:]
	for i := len(rest) - 1; i >= 0 && i >= len(rest)-bestWorstN; i-- {
		bars = append(bars, bar(rest[i], c.T("worst")))
	}
	return barChart(c.T("best_worst"), bars, palette[0])
}

// paretoBars are the bars of the downtime Pareto, largest first: by alarm
// code when the site's down time names alarm codes, else by machine.
func paretoBars(d Data, c messages) []Bar {
	var down []Bar
	if hasAlarmCodes(d.Site.DownByAlarm) {
		for _, a := range d.Site.DownByAlarm {
			if h := a.Seconds / 3600; h > 0 {
				down = append(down, Bar{Label: alarmLabel(a.Code, c), Value: h, Text: c.Num(h) + " " + c.T("hours_unit")})
			}
		}
	} else {
		for _, e := range d.Equipment {
			if h := e.StateHours["down"]; h > 0 {
				down = append(down, Bar{Label: e.Line + "/" + e.Equipment, Value: h, Text: c.Num(h) + " " + c.T("hours_unit")})
			}
		}
	}
	sort.SliceStable(down, func(i, j int) bool { return down[i].Value > down[j].Value })
	return down
}

// hasAlarmCodes reports whether a breakdown names an alarm code (a bucket
// other than no alarm, "", and unknown, "?").
func hasAlarmCodes(ds []api.AlarmDownJSON) bool {
	for _, a := range ds {
		if a.Code != "" && a.Code != "?" && a.Seconds > 0 {
			return true
		}
	}
	return false
}

func alarmLabel(code string, c messages) string {
	switch code {
	case "":
		return c.T("no_alarm")
	case "?":
		return c.T("unknown_alarm")
	}
	return code
}
