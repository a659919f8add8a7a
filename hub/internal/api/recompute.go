package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/recompute"
)

// Option configures the handler.
type Option func(*handler)

// Recomputer rewrites the figures of a range in the background
// (recompute.Service).
type Recomputer interface {
	Start(from, to time.Time) (recompute.Progress, error)
	Status() recompute.Progress
}

var _ Recomputer = (*recompute.Service)(nil)

// WithRecompute enables POST and GET /api/v1/recompute.
func WithRecompute(r Recomputer) Option { return func(h *handler) { h.rc = r } }

// WithEvents serves the event API (list, acknowledge, resolve) under /api/v1/events.
func WithEvents(h http.Handler) Option { return func(hd *handler) { hd.events = h } }

// WithReport serves the monthly report (package report's Handler) at
// GET /api/v1/months/{month}/report.
func WithReport(h http.Handler) Option { return func(hd *handler) { hd.report = h } }

// RecomputeJSON is the answer of /api/v1/recompute.
type RecomputeJSON struct {
	recompute.Progress
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	// Fraction is done over total (1 when there is nothing to write).
	Fraction float64 `json:"fraction"`
	// ETASeconds estimates the time left; absent before the first write.
	ETASeconds *float64 `json:"eta_seconds,omitempty"`
}

func progressJSON(p recompute.Progress) RecomputeJSON {
	out := RecomputeJSON{Progress: p, ElapsedSeconds: p.Elapsed.Seconds(), Fraction: p.Fraction()}
	if eta, ok := p.ETA(); ok && p.Running {
		s := eta.Seconds()
		out.ETASeconds = &s
	}
	return out
}

func (h *handler) startRecompute(w http.ResponseWriter, r *http.Request) {
	if h.rc == nil {
		http.Error(w, "recompute is not enabled in this hub", http.StatusNotImplemented)
		return
	}
	from, to, err := recompute.ParseRange(r.URL.Query().Get("from"), r.URL.Query().Get("to"), h.loc)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	p, err := h.rc.Start(from, to)
	if errors.Is(err, recompute.ErrRange) {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if errors.Is(err, recompute.ErrBusy) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusConflict)
		writeJSONBody(w, progressJSON(p))
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	writeJSONBody(w, progressJSON(p))
}

func (h *handler) recomputeStatus(w http.ResponseWriter, _ *http.Request) {
	if h.rc == nil {
		http.Error(w, "recompute is not enabled in this hub", http.StatusNotImplemented)
		return
	}
	writeJSON(w, progressJSON(h.rc.Status()))
}

// Scopes of an operator row.
const (
	ScopeSite = "site"
	ScopeLine = "line"
)

// OperatorJSON is one operator month in the API: on a line (Scope
// ScopeLine), or over the site (ScopeSite, Line empty, then with active,
// tier and attrition).
type OperatorJSON struct {
	// Scope says what the row covers: ScopeSite or ScopeLine.
	Scope    string  `json:"scope"`
	Site     string  `json:"site"`
	Line     string  `json:"line,omitempty"`
	Operator string  `json:"operator"`
	RunHours float64 `json:"run_hours"`
	// GroupRunHours is the run time of the line's (site's) equipment.
	GroupRunHours float64 `json:"group_run_hours"`
	// Share is run hours over group run hours; absent when the group did not run.
	Share           *float64 `json:"share,omitempty"`
	Active          *bool    `json:"active,omitempty"`
	Tier            string   `json:"tier,omitempty"`
	AttritionRisk   *bool    `json:"attrition_risk,omitempty"`
	AttritionReason string   `json:"attrition_reason,omitempty"`
}

// OperatorsJSON is the answer of /api/v1/months/{month}/operators.
type OperatorsJSON struct {
	Month     string         `json:"month"`
	Timezone  string         `json:"timezone"`
	Operators []OperatorJSON `json:"operators"`
}

// Operators builds month m's operator figures as
// /api/v1/months/{month}/operators answers them: site-wide rows first, each
// row with its scope.
func Operators(eng *engine.Engine, loc *time.Location, m activity.Period) OperatorsJSON {
	out := OperatorsJSON{Month: m.Name(), Timezone: loc.String(), Operators: []OperatorJSON{}}
	for _, o := range eng.Operators(m) {
		oj := OperatorJSON{Scope: ScopeLine, Site: o.Site, Line: o.Line, Operator: o.Operator, RunHours: o.RunSeconds / 3600,
			GroupRunHours: o.GroupRunSeconds / 3600}
		if v, ok := o.Share(); ok {
			oj.Share = &v
		}
		if o.Line == "" {
			oj.Scope = ScopeSite
			active, risk := o.Active(), o.Attrition
			oj.Active, oj.Tier, oj.AttritionRisk, oj.AttritionReason = &active, o.Tier, &risk, o.AttritionReason
		}
		out.Operators = append(out.Operators, oj)
	}
	return out
}

func (h *handler) operators(w http.ResponseWriter, r *http.Request) {
	m, err := activity.ParseMonth(r.PathValue("month"), h.loc)
	if err != nil {
		http.Error(w, "month must be YYYY-MM", http.StatusBadRequest)
		return
	}
	writeJSON(w, Operators(h.eng, h.loc, m))
}
