package report

import (
	"html/template"
	"strconv"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/action"
	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/segment"
)

// SegmentSource is a Source that also has the month's segments (a Source
// without them makes a report without the segments section).
type SegmentSource interface {
	Segments(month string) (api.SegmentsJSON, error)
}

// ActionSource is a Source that also has the month's actions: those
// opened, due or done in it, with their effects.
type ActionSource interface {
	Actions(month string) ([]action.JSON, error)
}

// Segments implements SegmentSource (nothing without s.Segments).
func (s EngineSource) Segments(month string) (api.SegmentsJSON, error) {
	m, err := s.period(month)
	if err != nil || s.SegmentRules == nil {
		return api.SegmentsJSON{}, err
	}
	return api.Segments(*s.SegmentRules, m, s.now()), nil
}

// Actions implements ActionSource (none without s.Actions).
func (s EngineSource) Actions(month string) ([]action.JSON, error) {
	m, err := s.period(month)
	if err != nil || s.ActionRules == nil {
		return nil, err
	}
	as, err := s.ActionRules.Store.List(action.Filter{From: m.Start, To: m.End}, s.Location)
	if err != nil {
		return nil, err
	}
	// Not nil, so the report shows the section; oldest first.
	out := make([]action.JSON, 0, len(as))
	effects := s.ActionRules.Effects(as)
	for i := len(as) - 1; i >= 0; i-- {
		out = append(out, action.JSON{Action: as[i], Effect: effects[i]})
	}
	return out, nil
}

func (s EngineSource) now() time.Time {
	if s.Clock != nil {
		return s.Clock()
	}
	return time.Now()
}

// segmentsView is the report's segments and actions sections, formatted.
type segmentsView struct {
	HasSegments bool
	Kinds       []segmentKind
	// TracksActions: the source has actions (the section is shown), and
	// HasActions: some are in the month.
	TracksActions, HasActions bool
	Actions                   []actionRow
}

type segmentKind struct {
	Title  string
	Names  []string // the columns: every segment
	Counts []int
	// From names the rows of the transition table, Cells its counts.
	From  []string
	Cells [][]int
	Watch []watchRow
}

type watchRow struct{ Who, Segment, Scores, Reason string }

type actionRow struct {
	ID, What, Subject, Owner, Due, Status, Effect string
}

// buildSegments formats the month's segments (site-wide transitions) and
// actions of d in c's language.
func buildSegments(d Data, c messages, loc *time.Location) segmentsView {
	var v segmentsView
	if d.Segments != nil && len(d.Segments.Assignments) > 0 {
		v.HasSegments = true
		for _, kind := range []string{segment.Equipment, segment.Operator} {
			k := segmentKind{Title: c.T("segments.title." + kind), From: []string{c.T("segments.none")}}
			as := make([]segment.Assignment, 0, len(d.Segments.Assignments))
			for _, a := range d.Segments.Assignments {
				as = append(as, a.Assignment)
			}
			counts := segment.Count(as, kind, d.Site.Site, "")
			pos := map[string]int{"": 0}
			for i, s := range segment.Names {
				k.Names = append(k.Names, c.T("segments.name."+s))
				k.Counts = append(k.Counts, counts[s])
				k.From = append(k.From, c.T("segments.name."+s))
				pos[s] = i + 1
			}
			k.Cells = make([][]int, len(k.From))
			for i := range k.Cells {
				k.Cells[i] = make([]int, len(segment.Names))
			}
			for _, t := range d.Segments.Transitions {
				if t.Kind == kind && t.Site == d.Site.Site && t.Line == "" {
					k.Cells[pos[t.From]][pos[t.To]-1] += t.Count
				}
			}
			for _, a := range as {
				if a.Kind != kind || a.Site != d.Site.Site || (a.Segment != segment.Declining && a.Segment != segment.AtRisk) {
					continue
				}
				who := a.ID
				if a.Line != "" {
					who = a.Line + "/" + a.ID
				}
				k.Watch = append(k.Watch, watchRow{Who: who, Segment: c.T("segments.name." + a.Segment),
					Scores: "R" + itoa(a.Scores.Recency) + " F" + itoa(a.Scores.Frequency) + " V" + itoa(a.Scores.Volume), Reason: a.Reason.Text(c.lang)})
			}
			v.Kinds = append(v.Kinds, k)
		}
	}
	v.TracksActions, v.HasActions = d.Actions != nil, len(d.Actions) > 0
	for _, a := range d.Actions {
		s := a.Subject
		subject := c.T("actions.kind." + s.Kind)
		switch {
		case s.Equipment != "":
			subject += " " + s.Line + "/" + s.Equipment
		case s.Operator != "":
			subject += " " + s.Operator
		case s.Line != "":
			subject += " " + s.Line
		}
		if s.Event != "" {
			subject += " (" + s.Event + ")"
		}
		status := c.T("actions.status." + a.Status)
		if a.DoneAt != nil {
			status += " " + a.DoneAt.In(loc).Format("2006-01-02")
		}
		v.Actions = append(v.Actions, actionRow{ID: a.ID, What: a.What, Subject: subject, Owner: a.Owner, Due: a.Due,
			Status: status, Effect: effectText(a.Effect, c)})
	}
	return v
}

// effectText says an effect in one line: the downtime and availability
// before and after, and whether the after window is complete.
func effectText(e *action.Effect, c messages) string {
	if e == nil {
		return "–"
	}
	if e.Delta == nil {
		return c.T("actions.effect_pending", e.WindowDays)
	}
	s := c.T("actions.effect_line", c.Num(e.Before.DownHoursPerDay), c.Num(e.After.DownHoursPerDay),
		c.Pct(e.Before.Availability), c.Pct(e.After.Availability), c.Num(e.Before.RunHoursPerDay), c.Num(e.After.RunHoursPerDay),
		e.Before.Failures, e.After.Failures, e.Before.Events, e.After.Events)
	if !e.Complete {
		s += " " + c.T("actions.partial", e.After.Days, e.WindowDays)
	}
	return s
}

func itoa(i int) string { return strconv.Itoa(i) }

// The segments and actions sections, a template of the report page.
var _ = template.Must(reportPage.New("segments").Parse(`{{if .HasSegments}}
<section><h2>{{.T "segments.title"}}</h2>
{{range $k := .Kinds}}<h3>{{$k.Title}}</h3>
<table><tr>{{range $k.Names}}<th>{{.}}</th>{{end}}</tr><tr>{{range $k.Counts}}<td>{{.}}</td>{{end}}</tr></table>
<table><tr><th class="l">{{$.T "segments.from_to"}}</th>{{range $k.Names}}<th>{{.}}</th>{{end}}</tr>
{{range $i, $f := $k.From}}<tr><td class="l">{{$f}}</td>{{range index $k.Cells $i}}<td>{{if .}}{{.}}{{else}}·{{end}}</td>{{end}}</tr>
{{end}}</table>
{{if $k.Watch}}<table><tr><th class="l">{{$.T "segments.who"}}</th><th class="l">{{$.T "segments.segment"}}</th><th class="l">{{$.T "segments.scores"}}</th><th class="l">{{$.T "segments.reason"}}</th></tr>
{{range $k.Watch}}<tr><td class="l">{{.Who}}</td><td class="l">{{.Segment}}</td><td class="l">{{.Scores}}</td><td class="l">{{.Reason}}</td></tr>
{{end}}</table>{{else}}<p>{{$.T "segments.none_watched"}}</p>{{end}}
{{end}}<p class="note">{{.T "segments.note"}}</p></section>{{end}}{{if .TracksActions}}
<section><h2>{{.T "actions.title"}}</h2>{{if .HasActions}}
<table><tr><th class="l">#</th><th class="l">{{.T "actions.what"}}</th><th class="l">{{.T "actions.subject"}}</th><th class="l">{{.T "actions.owner"}}</th><th class="l">{{.T "actions.due"}}</th><th class="l">{{.T "actions.status"}}</th><th class="l">{{.T "actions.effect"}}</th></tr>
{{range .Actions}}<tr><td class="l">{{.ID}}</td><td class="l">{{.What}}</td><td class="l">{{.Subject}}</td><td class="l">{{.Owner}}</td><td class="l">{{.Due}}</td><td class="l">{{.Status}}</td><td class="l">{{.Effect}}</td></tr>
{{end}}</table>{{else}}<p>{{.T "actions.none"}}</p>{{end}}<p class="note">{{.T "actions.note"}}</p></section>{{end}}`))
