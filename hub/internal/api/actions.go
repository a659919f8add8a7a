package api

import (
	"net/http"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/action"
	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/segment"
	"github.com/floorpulse/floorpulse/hub/internal/state"
)

// WithActions serves the action API (package action) under /api/v1/actions.
func WithActions(h http.Handler) Option { return func(hd *handler) { hd.actions = h } }

// WithSegments serves GET /api/v1/months/{month}/segments from src.
func WithSegments(src segment.Source, clock func() time.Time) Option {
	return func(hd *handler) { hd.segments, hd.clock = &src, clock }
}

// ActionDay measures an action's subject on eng: a machine's figures of a
// day, or its line's (the registered equipment summed).
func ActionDay(eng *engine.Engine) func(s action.Subject, d activity.Period) action.Day {
	return func(s action.Subject, d activity.Period) action.Day {
		var out action.Day
		add := func(f activity.Figures) {
			out.RunSeconds += f.RunSeconds()
			out.BusySeconds += f.BusySeconds()
			out.DownSeconds += f.Seconds[state.Down]
			out.Failures += f.Failures
		}
		for _, k := range eng.Keys() {
			if k.Site != s.Site || k.Line != s.Line || (s.Equipment != "" && k.Equipment != s.Equipment) {
				continue
			}
			if s.Equipment == "" && !eng.Equipment(k).Registered {
				continue
			}
			if f, ok := eng.EquipmentFigures(k, d); ok {
				add(f)
			}
		}
		return out
	}
}

// ActionKnown reports whether an action's subject names a machine (with
// Equipment) or a line that eng knows.
func ActionKnown(eng *engine.Engine) func(s action.Subject) bool {
	return func(s action.Subject) bool {
		for _, k := range eng.Keys() {
			if k.Site == s.Site && k.Line == s.Line && (s.Equipment == "" || k.Equipment == s.Equipment) {
				return true
			}
		}
		return false
	}
}

// SegmentsJSON is the answer of /api/v1/months/{month}/segments: every
// assignment of the month with its reason in both languages, and the moves
// from the month before.
type SegmentsJSON struct {
	Month       string               `json:"month"`
	Timezone    string               `json:"timezone"`
	Assignments []SegmentJSON        `json:"assignments"`
	Transitions []segment.Transition `json:"transitions"`
}

// SegmentJSON is one assignment with its reason in words.
type SegmentJSON struct {
	segment.Assignment
	ReasonText map[string]string `json:"reason_text"`
}

// Segments builds month m's segments as the API answers them.
func Segments(src segment.Source, m activity.Period, now time.Time) SegmentsJSON {
	r := src.Report(m, now)
	out := SegmentsJSON{Month: r.Month, Timezone: src.Location.String(), Assignments: []SegmentJSON{}, Transitions: r.Transitions}
	for _, a := range r.Assignments {
		texts := map[string]string{}
		for _, l := range segment.Languages {
			texts[l] = a.Reason.Text(l)
		}
		out.Assignments = append(out.Assignments, SegmentJSON{Assignment: a, ReasonText: texts})
	}
	return out
}

func (h *handler) segmentsJSON(w http.ResponseWriter, r *http.Request) {
	if h.segments == nil {
		http.Error(w, "segments are not enabled in this hub", http.StatusNotImplemented)
		return
	}
	m, err := activity.ParseMonth(r.PathValue("month"), h.loc)
	if err != nil {
		http.Error(w, "month must be YYYY-MM", http.StatusBadRequest)
		return
	}
	writeJSON(w, Segments(*h.segments, m, h.clock()))
}
