package api

import (
	"net/http"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
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

// LineNow builds a line's live state at now as /api/v1/lines/{line}/now
// answers it; open may be nil (no events).
func LineNow(eng *engine.Engine, loc *time.Location, site, line string, now time.Time, open OpenEvents) LineNowJSON {
	out := LineNowJSON{Site: site, Line: line, Now: now.In(loc), Machines: []MachineNowJSON{}, Events: []anomaly.Record{}}
	for _, n := range eng.Line(site, line, now) {
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
				m.TodayHours[state.State(i).String()] = s / 3600
			}
		}
		out.Machines = append(out.Machines, m)
	}
	if open != nil {
		out.Events = append(out.Events, open(site, line)...)
	}
	return out
}

func (h *handler) lineNow(line string, now time.Time) LineNowJSON {
	return LineNow(h.eng, h.loc, h.site, line, now, h.openEvents)
}

func (h *handler) lineNowJSON(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, h.lineNow(r.PathValue("line"), time.Now()))
}
