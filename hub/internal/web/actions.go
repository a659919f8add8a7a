package web

import (
	"net/http"
	"net/url"

	"github.com/floorpulse/floorpulse/hub/internal/action"
	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/segment"
)

// segmentsView is the segments block of the overview (machines) and the
// operators page: the month's counts, the moves from the month before (the
// site's), and the declining and at-risk entities with their reasons.
type segmentsView struct {
	// Line: the block is one line's (empty: the site's).
	Kind, Line, Month string
	Counts            []segmentCount
	// From are the rows of the transition table (the month before's
	// segment; "" for not scored then), To its columns; Cells[i][j] counts
	// the moves from From[i] to To[j].
	From, To []string
	Cells    [][]int
	Watch    []watchRow
	CanAct   bool
}

type segmentCount struct {
	Segment string
	N       int
}

type watchRow struct {
	segment.Assignment
	Reason string
	// NewAction opens the actions page with the new-action form for the row.
	NewAction string
}

// segments builds the block of one kind for month m in language lang, of
// the site (line empty) or one line; nil when the pages have no segment
// source.
func (h *handler) segments(kind, line string, m activity.Period, lang string, canAct bool) *segmentsView {
	if h.opts.Segments == nil {
		return nil
	}
	rep := h.opts.Segments.Report(m, h.opts.Clock())
	v := &segmentsView{Kind: kind, Line: line, Month: m.Name(), To: segment.Names, CanAct: canAct}
	counts := segment.Count(rep.Assignments, kind, h.opts.Site, line)
	for _, s := range segment.Names {
		v.Counts = append(v.Counts, segmentCount{s, counts[s]})
	}
	v.From = append([]string{""}, segment.Names...)
	v.Cells = make([][]int, len(v.From))
	for i := range v.Cells {
		v.Cells[i] = make([]int, len(v.To))
	}
	idx := func(names []string, s string) int {
		for i, n := range names {
			if n == s {
				return i
			}
		}
		return -1
	}
	for _, t := range rep.Transitions {
		if t.Kind == kind && t.Site == h.opts.Site && t.Line == line {
			if i, j := idx(v.From, t.From), idx(v.To, t.To); i >= 0 && j >= 0 {
				v.Cells[i][j] += t.Count
			}
		}
	}
	for _, a := range rep.Assignments {
		if a.Kind != kind || a.Site != h.opts.Site || (line != "" && a.Line != line) || (a.Segment != segment.Declining && a.Segment != segment.AtRisk) {
			continue
		}
		q := url.Values{"new": {action.SubjectSegment}, "month": {a.Month}, "segment": {a.Segment}}
		if kind == segment.Operator {
			q.Set("operator", a.ID)
		} else {
			q.Set("line", a.Line)
			q.Set("equipment", a.ID)
		}
		v.Watch = append(v.Watch, watchRow{Assignment: a, Reason: a.Reason.Text(lang), NewAction: "/actions?" + q.Encode()})
	}
	return v
}

// segmentOf returns a machine's assignment in month m, with its reason in
// lang; nil without a segment source or when the machine has none.
func (h *handler) segmentOf(line, equipment string, m activity.Period, lang string) *watchRow {
	if h.opts.Segments == nil {
		return nil
	}
	for _, a := range h.opts.Segments.Report(m, h.opts.Clock()).Assignments {
		if a.Kind == segment.Equipment && a.Site == h.opts.Site && a.Line == line && a.ID == equipment {
			return &watchRow{Assignment: a, Reason: a.Reason.Text(lang)}
		}
	}
	return nil
}

// actionsPage is what the actions page shows.
type actionsPage struct {
	Filter  action.Filter
	Lines   []string
	Actions []actionRow
	// New is the subject of the new-action form (Kind empty: no form
	// opened), Due its default due date.
	New action.Subject
	Due string
}

type actionRow struct {
	action.Action
	Effect *action.Effect
}

// newActionDays is the default due date of a new action, from today.
const newActionDays = 7

func (h *handler) actions(w http.ResponseWriter, r *http.Request) {
	v, l := h.start(w, r, "actions")
	v.Title = l.T("actions.title")
	if h.opts.Actions == nil {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	f := action.Filter{Status: q.Get("status"), Line: q.Get("line"), Owner: q.Get("owner"), Equipment: q.Get("equipment")}
	if q.Get("new") != "" { // the parameters name the new action's subject, not a filter
		f = action.Filter{}
	}
	p := actionsPage{Filter: f, Lines: h.opts.Engine.Lines(h.opts.Site)}
	as, err := h.opts.Actions.Store.List(f, h.opts.Location)
	if err != nil {
		h.opts.Log.Error("listing actions", "err", err)
		http.Error(w, "listing actions failed", http.StatusInternalServerError)
		return
	}
	for i, e := range h.opts.Actions.Effects(as) {
		p.Actions = append(p.Actions, actionRow{Action: as[i], Effect: e})
	}
	switch kind := q.Get("new"); kind {
	case action.SubjectEvent, action.SubjectSegment, action.SubjectMachine, action.SubjectLine:
		p.New = action.Subject{Kind: kind, Site: h.opts.Site, Event: q.Get("event"), Line: q.Get("line"), Equipment: q.Get("equipment"),
			Operator: q.Get("operator"), Month: q.Get("month"), Segment: q.Get("segment")}
	}
	now := h.opts.Clock().In(h.opts.Location)
	p.Due = now.AddDate(0, 0, newActionDays).Format("2006-01-02")
	v.P = p
	v.Data = map[string]any{"i18n": h.pages.cats[v.Lang], "zone": h.opts.Location.String()}
	h.render(w, v)
}
