package report

import (
	"html/template"
	"sort"
	"strings"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
)

// BreakdownSource is a Source that also breaks a month's figures down by
// day or shift (/api/v1/months/{month}/days|shifts?line=); a Source without
// it makes a report without the OEE by day section.
type BreakdownSource interface {
	Breakdown(month, kind, line string) (api.BreakdownJSON, error)
}

var _ BreakdownSource = EngineSource{}

// Breakdown implements BreakdownSource: a line's days or shifts of a month.
func (s EngineSource) Breakdown(month, kind, line string) (api.BreakdownJSON, error) {
	m, err := s.period(month)
	if err != nil {
		return api.BreakdownJSON{}, err
	}
	return api.Breakdown(s.Engine, s.Location, m, kind, engine.Scope{Site: s.Site, Line: line})
}

// breakdowns gathers every line's days and shifts of the month (d.Lines).
func breakdowns(src BreakdownSource, d *Data) error {
	for _, l := range d.Lines {
		days, err := src.Breakdown(d.MonthJSON.Month, activity.Day, l.Line)
		if err != nil {
			return err
		}
		shifts, err := src.Breakdown(d.MonthJSON.Month, activity.Shift, l.Line)
		if err != nil {
			return err
		}
		d.Days = append(d.Days, days)
		d.Shifts = append(d.Shifts, shifts)
	}
	return nil
}

// worstN is how many days and how many shifts the worst lists hold;
// worstMinPBT the planned busy hours a period needs to be listed (an hour
// run for a minute is no measure of a line).
const (
	worstN      = 5
	worstMinPBT = 1.0
)

// worstRow is a day or a shift of a line among the worst, formatted.
type worstRow struct {
	Line, When, OEE, Availability, Performance, Quality, MainLoss, MainLossHours, PBT string
}

// periodsSection is what the OEE by day section shows.
type periodsSection struct {
	c                      messages
	Chart                  template.HTML
	WorstDays, WorstShifts []worstRow
	Any, HasShifts         bool
}

// T is the message of key in the report's language.
func (s periodsSection) T(key string) string { return s.c.T(key) }

var periodsTemplate = template.Must(template.New("periods").Parse(`<section><h2>{{.T "oee_days.title"}}</h2>
{{if .Any}}{{.Chart}}
<h3>{{.T "oee_days.worst_days"}}</h3>
<table><tr><th class="l">{{.T "line"}}</th><th class="l">{{.T "oee_days.day"}}</th><th>{{.T "oee.oee"}}</th><th>{{.T "oee.availability"}}</th><th>{{.T "oee.performance"}}</th><th>{{.T "oee.quality"}}</th><th class="l">{{.T "oee_days.main_loss"}}</th><th>{{.T "oee_days.loss_hours"}}</th><th>{{.T "oee_days.pbt"}}</th></tr>
{{range .WorstDays}}<tr><td class="l">{{.Line}}</td><td class="l">{{.When}}</td><td>{{.OEE}}</td><td>{{.Availability}}</td><td>{{.Performance}}</td><td>{{.Quality}}</td><td class="l">{{.MainLoss}}</td><td>{{.MainLossHours}}</td><td>{{.PBT}}</td></tr>
{{end}}</table>
{{if .HasShifts}}<h3>{{.T "oee_days.worst_shifts"}}</h3>
<table><tr><th class="l">{{.T "line"}}</th><th class="l">{{.T "oee_days.shift"}}</th><th>{{.T "oee.oee"}}</th><th>{{.T "oee.availability"}}</th><th>{{.T "oee.performance"}}</th><th>{{.T "oee.quality"}}</th><th class="l">{{.T "oee_days.main_loss"}}</th><th>{{.T "oee_days.loss_hours"}}</th><th>{{.T "oee_days.pbt"}}</th></tr>
{{range .WorstShifts}}<tr><td class="l">{{.Line}}</td><td class="l">{{.When}}</td><td>{{.OEE}}</td><td>{{.Availability}}</td><td>{{.Performance}}</td><td>{{.Quality}}</td><td class="l">{{.MainLoss}}</td><td>{{.MainLossHours}}</td><td>{{.PBT}}</td></tr>
{{end}}</table>{{end}}
<p class="note">{{.T "oee_days.note"}}</p>
{{else}}<p>{{.T "oee_days.none"}}</p>{{end}}</section>
`))

// ranked is a period of a line with its OEE and planned busy hours.
type ranked struct {
	line string
	p    api.PeriodJSON
	pbt  float64
}

// worst returns up to worstN periods of bs with an OEE and at least
// worstMinPBT planned busy hours, lowest OEE first (then most hours lost,
// then line and start).
func worst(bs []api.BreakdownJSON) []ranked {
	var all []ranked
	for _, b := range bs {
		for _, p := range b.Periods {
			if p.OEE == nil || p.OEE.OEE == nil || p.OEE.LossHours == nil {
				continue
			}
			l := p.OEE.LossHours
			pbt := l.Availability + l.Performance + l.Quality + l.Productive
			if pbt >= worstMinPBT {
				all = append(all, ranked{line: b.Line, p: p, pbt: pbt})
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if *a.p.OEE.OEE != *b.p.OEE.OEE {
			return *a.p.OEE.OEE < *b.p.OEE.OEE
		}
		if la, lb := a.pbt-a.p.OEE.LossHours.Productive, b.pbt-b.p.OEE.LossHours.Productive; la != lb {
			return la > lb
		}
		if a.line != b.line {
			return a.line < b.line
		}
		return a.p.Start.Before(b.p.Start)
	})
	return all[:min(len(all), worstN)]
}

// worstRowOf formats a ranked period; when names the day or the shift.
func worstRowOf(c messages, r ranked, when string) worstRow {
	o := r.p.OEE
	row := worstRow{Line: r.line, When: when, OEE: c.Pct(o.OEE), Availability: c.Pct(o.Availability), Performance: c.Pct(o.Performance),
		Quality: c.Pct(o.Quality), MainLoss: "–", MainLossHours: "–", PBT: c.Num(r.pbt)}
	if r.p.MainLoss != "" {
		row.MainLoss = c.T("oee_days.loss_" + r.p.MainLoss)
		row.MainLossHours = c.Num(map[string]float64{api.LossAvailability: o.LossHours.Availability,
			api.LossPerformance: o.LossHours.Performance, api.LossQuality: o.LossHours.Quality}[r.p.MainLoss])
	}
	return row
}

// periodsHTML is the report's OEE by day section: every line's OEE day by
// day as a chart, and the month's worst days and shifts with their main
// loss; empty without breakdowns (a source that has none).
func periodsHTML(d Data, c messages) template.HTML {
	if d.Days == nil {
		return ""
	}
	s := periodsSection{c: c}
	var labels []string
	var series []Series
	for i, b := range d.Days {
		ser := Series{Name: b.Line}
		for _, p := range b.Periods {
			if i == 0 {
				labels = append(labels, strings.TrimPrefix(p.Start.Format("02"), "0"))
			}
			var v *float64
			if p.OEE != nil && p.OEE.OEE != nil {
				v = p.OEE.OEE
				s.Any = true
			}
			ser.Values = append(ser.Values, v)
		}
		series = append(series, ser)
	}
	if !s.Any {
		return executePeriods(s)
	}
	s.Chart = lineChart(c.T("oee_days.chart"), labels, series)
	for _, r := range worst(d.Days) {
		s.WorstDays = append(s.WorstDays, worstRowOf(c, r, r.p.Period))
	}
	for _, r := range worst(d.Shifts) {
		s.WorstShifts = append(s.WorstShifts, worstRowOf(c, r, r.p.Start.Format("2006-01-02 15:04")+" "+r.p.Shift))
	}
	s.HasShifts = len(s.WorstShifts) > 0
	return executePeriods(s)
}

func executePeriods(s periodsSection) template.HTML {
	var b strings.Builder
	if err := periodsTemplate.Execute(&b, s); err != nil {
		return template.HTML(template.HTMLEscapeString(err.Error()))
	}
	return template.HTML(b.String()) // executed by html/template: escaped
}
