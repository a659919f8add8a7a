package action

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/auth"
)

// Options configure the action API.
type Options struct {
	Store    Keeper
	Location *time.Location
	// Site is the hub's site: a subject without one is on it.
	Site string
	// WindowDays is the length of the before and after windows of an effect.
	WindowDays int
	// Clock reads now (default time.Now).
	Clock func() time.Time
	// Day returns a measured subject's figures of a day, events left out
	// (nil: no effects).
	Day func(s Subject, day activity.Period) Day
	// Events lists the anomaly events overlapping [from, to) (nil: none
	// are counted); an effect counts those of its subject by start day.
	Events func(from, to time.Time) ([]anomaly.Record, error)
	// Event resolves an event id to the machine it is on (nil: event
	// subjects are taken as given).
	Event func(id string) (Subject, bool)
	// Known reports whether a subject's machine or line exists (nil: any).
	Known func(Subject) bool
	// Changed is told of an action just opened or changed, with its effect
	// (nil: nobody is); e.g. to write it to InfluxDB at once.
	Changed func(JSON)
}

// JSON is an action as the API answers it: with its effect once done and
// measured.
type JSON struct {
	Action
	Effect *Effect `json:"effect,omitempty"`
}

// maxBody bounds request bodies.
const maxBody = 16 << 10

// Handler serves
//
//	GET   /api/v1/actions?status=&owner=&line=&equipment=&kind=&month=YYYY-MM
//	POST  /api/v1/actions          {"what","owner","due","subject":{...}}
//	GET   /api/v1/actions/{id}
//	PATCH /api/v1/actions/{id}     {"what","owner","due","status","note"}, each optional
//
// Who may write is decided in front of it (package auth); who acts is the
// request's identity.
func Handler(o Options) http.Handler {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	h := &handler{o: o}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/actions", h.list)
	mux.HandleFunc("POST /api/v1/actions", h.create)
	mux.HandleFunc("GET /api/v1/actions/{id}", h.get)
	mux.HandleFunc("PATCH /api/v1/actions/{id}", h.patch)
	return mux
}

type handler struct{ o Options }

// measured reports whether o can measure a's effect: done, on a machine or
// line, with figures to read.
func (o Options) measured(a Action) bool {
	return a.Status == Done && a.DoneAt != nil && o.Day != nil && a.Subject.Measured() && o.WindowDays >= 1
}

// Effect measures a done action's effect; nil when it is not done, not
// measured, or effects are not computed.
func (o Options) Effect(a Action) *Effect { return o.Effects([]Action{a})[0] }

// Effects measures the effects of several actions (nil where Effect gives
// nil), listing the events once for all of them.
func (o Options) Effects(as []Action) []*Effect {
	out := make([]*Effect, len(as))
	var from, to time.Time
	for _, a := range as {
		if o.measured(a) {
			before, after := Windows(a.CreatedAt, *a.DoneAt, o.WindowDays, o.Location)
			if from.IsZero() || before[0].Start.Before(from) {
				from = before[0].Start
			}
			if end := after[len(after)-1].End; end.After(to) {
				to = end
			}
		}
	}
	if from.IsZero() {
		return out
	}
	var evs []anomaly.Record
	if o.Events != nil {
		evs, _ = o.Events(from, to) // without them the effects count no events
	}
	now := o.now()
	for i, a := range as {
		if !o.measured(a) {
			continue
		}
		e := Compare(a.CreatedAt, *a.DoneAt, now, o.WindowDays, o.Location, func(d activity.Period) Day {
			f := o.Day(a.Subject, d)
			for _, ev := range evs {
				if ev.Site == a.Subject.Site && ev.Line == a.Subject.Line && (a.Subject.Equipment == "" || ev.Equipment == a.Subject.Equipment) &&
					!ev.Start.Before(d.Start) && ev.Start.Before(d.End) {
					f.Events++
				}
			}
			return f
		})
		out[i] = &e
	}
	return out
}

func (o Options) now() time.Time {
	if o.Clock == nil {
		return time.Now()
	}
	return o.Clock()
}

func (h *handler) json(a Action) JSON { return JSON{Action: a, Effect: h.o.Effect(a)} }

func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := Filter{Status: q.Get("status"), Owner: q.Get("owner"), Site: q.Get("site"), Line: q.Get("line"),
		Equipment: q.Get("equipment"), Kind: q.Get("kind")}
	if m := q.Get("month"); m != "" {
		p, err := activity.ParseMonth(m, h.o.Location)
		if err != nil {
			writeError(w, fmt.Errorf("%w: month must be YYYY-MM", ErrInvalid))
			return
		}
		f.From, f.To = p.Start, p.End
	}
	as, err := h.o.Store.List(f, h.o.Location)
	if err != nil {
		writeError(w, err)
		return
	}
	out := make([]JSON, 0, len(as))
	for i, e := range h.o.Effects(as) {
		out = append(out, JSON{Action: as[i], Effect: e})
	}
	writeJSON(w, http.StatusOK, map[string]any{"actions": out, "window_days": h.o.WindowDays})
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	a, err := h.o.Store.Get(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, h.json(a))
}

func (h *handler) create(w http.ResponseWriter, r *http.Request) {
	who, ok := auth.From(r.Context())
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "who acts is not known: authentication required"})
		return
	}
	var n New
	if err := decode(r, &n); err != nil {
		writeError(w, err)
		return
	}
	if n.Subject.Site == "" {
		n.Subject.Site = h.o.Site
	}
	if n.Subject.Kind == SubjectEvent && h.o.Event != nil && n.Subject.Event != "" {
		s, found := h.o.Event(n.Subject.Event)
		if !found {
			writeError(w, fmt.Errorf("%w: no event %q", ErrInvalid, n.Subject.Event))
			return
		}
		s.Kind, s.Event = SubjectEvent, n.Subject.Event
		n.Subject = s
	}
	if h.o.Known != nil && n.Subject.Line != "" && !h.o.Known(n.Subject) {
		writeError(w, fmt.Errorf("%w: no machine or line %s/%s %s", ErrInvalid, n.Subject.Site, n.Subject.Line, n.Subject.Equipment))
		return
	}
	a, err := h.o.Store.Create(n, who.Name, h.o.now())
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Location", "/api/v1/actions/"+a.ID)
	j := h.json(a)
	if h.o.Changed != nil {
		h.o.Changed(j)
	}
	writeJSON(w, http.StatusCreated, j)
}

func (h *handler) patch(w http.ResponseWriter, r *http.Request) {
	who, ok := auth.From(r.Context())
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "who acts is not known: authentication required"})
		return
	}
	var p Patch
	if err := decode(r, &p); err != nil {
		writeError(w, err)
		return
	}
	a, err := h.o.Store.Update(r.PathValue("id"), p, who.Name, h.o.now())
	if err != nil {
		writeError(w, err)
		return
	}
	j := h.json(a)
	if h.o.Changed != nil {
		h.o.Changed(j)
	}
	writeJSON(w, http.StatusOK, j)
}

// decode reads one JSON object with no unknown fields.
func decode(r *http.Request, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return fmt.Errorf("%w: reading the body: %v", ErrInvalid, err)
	}
	if len(data) > maxBody {
		return fmt.Errorf("%w: body larger than %d bytes", ErrInvalid, maxBody)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: want one JSON object: %v", ErrInvalid, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON object", ErrInvalid)
	}
	return nil
}

func writeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case errors.Is(err, ErrInvalid):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "storing actions failed"})
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
