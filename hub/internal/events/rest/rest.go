// Package rest serves the anomaly event records over HTTP under
// /api/v1/events: the list as a change feed with a cursor, one record,
// acknowledging and resolving (JSON, or the form of a small page that chat
// links open), and the dead letters of failed deliveries.
//
// Who may use which route is package auth's to decide; an acknowledgement
// or resolution records the authenticated identity in the request's
// context, never a name the request gives.
//
// What always holds: a GET never changes anything (link previews in chats
// fetch links); bad input is a 400 naming the parameter, an unknown id a
// 404 and a change the record's state does not allow a 409; every answer
// but the pages is JSON.
package rest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
)

// Records is what the handler needs of the event records.
type Records interface {
	List(f ledger.Filter, cursor string, limit int) ([]anomaly.Record, string, bool, error)
	Get(id string) (anomaly.Record, error)
	Ack(id, by, note string, now time.Time) (anomaly.Record, error)
	Resolve(id, by, note string, now time.Time) (anomaly.Record, error)
}

// Letters is what the handler needs of the dead letters.
type Letters interface {
	DeadLetters(after uint64, limit int) ([]ledger.DeadLetter, error)
	Redeliver(seq uint64, now time.Time) error
}

var (
	_ Records = (*ledger.Store)(nil)
	_ Letters = (*ledger.Store)(nil)
)

// Handler serves the events API:
//
//	GET  /api/v1/events                          records: ?type=&site=&line=&equipment=&status=&since=&cursor=&limit=
//	GET  /api/v1/events/{id}                     one record
//	POST /api/v1/events/{id}/ack                 {"note": "..."} (JSON or a form)
//	POST /api/v1/events/{id}/resolve             {"note": "..."}
//	GET  /api/v1/events/{id}/ack                 a small HTML page to acknowledge (the link in messages)
//	GET  /api/v1/events/deadletters              failed deliveries: ?after=&limit=
//	POST /api/v1/events/deadletters/{seq}/retry  put one back into the outbox
type Handler struct {
	mux     *http.ServeMux
	records Records
	letters Letters
	clock   func() time.Time
	loc     *time.Location
}

// New returns the handler of records and letters; clock is the time of
// actions, loc the plant's time zone (times on pages).
func New(records Records, letters Letters, clock func() time.Time, loc *time.Location) *Handler {
	h := &Handler{mux: http.NewServeMux(), records: records, letters: letters, clock: clock, loc: loc}
	h.mux.HandleFunc("GET /api/v1/events", h.list)
	h.mux.HandleFunc("GET /api/v1/events/deadletters", h.deadLetters)
	h.mux.HandleFunc("POST /api/v1/events/deadletters/{seq}/retry", h.retry)
	h.mux.HandleFunc("GET /api/v1/events/{id}", h.get)
	h.mux.HandleFunc("GET /api/v1/events/{id}/ack", h.ackPage)
	h.mux.HandleFunc("POST /api/v1/events/{id}/ack", func(w http.ResponseWriter, r *http.Request) { h.action(w, r, records.Ack) })
	h.mux.HandleFunc("POST /api/v1/events/{id}/resolve", func(w http.ResponseWriter, r *http.Request) { h.action(w, r, records.Resolve) })
	return h
}

// ServeHTTP serves the routes above.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, ledger.ErrInvalid):
		code = http.StatusBadRequest
	case errors.Is(err, ledger.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ledger.ErrConflict):
		code = http.StatusConflict
	}
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

// ParseFilter reads the list query: the filter, the cursor and the limit (1..1000, default 100).
func ParseFilter(q url.Values) (ledger.Filter, string, int, error) {
	f := ledger.Filter{Type: q.Get("type"), Site: q.Get("site"), Line: q.Get("line"), Equipment: q.Get("equipment"), Status: q.Get("status")}
	for k := range q {
		switch k {
		case "type", "site", "line", "equipment", "status", "since", "cursor", "limit":
		default:
			return f, "", 0, fmt.Errorf("%w: unknown parameter %q (want type, site, line, equipment, status, since, cursor or limit)", ledger.ErrInvalid, k)
		}
	}
	if f.Type != "" && !slices.Contains(anomaly.Types, f.Type) {
		return f, "", 0, fmt.Errorf("%w: unknown type %q (want one of %s)", ledger.ErrInvalid, f.Type, strings.Join(anomaly.Types, ", "))
	}
	switch f.Status {
	case "", anomaly.Opened, anomaly.Acknowledged, anomaly.Resolved:
	default:
		return f, "", 0, fmt.Errorf("%w: unknown status %q (want opened, acknowledged or resolved)", ledger.ErrInvalid, f.Status)
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return f, "", 0, fmt.Errorf("%w: since must be an RFC 3339 time like 2026-10-01T06:00:00Z (got %q)", ledger.ErrInvalid, v)
		}
		f.Since = t
	}
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		return f, "", 0, err
	}
	return f, q.Get("cursor"), limit, nil
}

// parseLimit reads a page size: 1..1000, default ("") 100.
func parseLimit(v string) (int, error) {
	if v == "" {
		return 100, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, fmt.Errorf("%w: limit must be between 1 and 1000 (got %q)", ledger.ErrInvalid, v)
	}
	return n, nil
}

// ListJSON is the answer of GET /api/v1/events.
type ListJSON struct {
	Events []anomaly.Record `json:"events"`
	// Next is the cursor to continue from (also after the last page: ask
	// again later with it for newer changes); absent when nothing was ever listed.
	Next string `json:"next,omitempty"`
	// More is true when further records matched: fetch the next page now.
	More bool `json:"more"`
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	f, cursor, limit, err := ParseFilter(r.URL.Query())
	if err != nil {
		writeError(w, err)
		return
	}
	recs, next, more, err := h.records.List(f, cursor, limit)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ListJSON{Events: recs, Next: next, More: more})
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	rec, err := h.records.Get(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

func (h *Handler) deadLetters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after uint64
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, fmt.Errorf("%w: after must be a sequence number (got %q)", ledger.ErrInvalid, v))
			return
		}
		after = n
	}
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		writeError(w, err)
		return
	}
	dls, err := h.letters.DeadLetters(after, limit)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deadletters": dls})
}

func (h *Handler) retry(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		writeError(w, fmt.Errorf("%w: not a sequence number: %q", ledger.ErrInvalid, r.PathValue("seq")))
		return
	}
	if err := h.letters.Redeliver(seq, h.clock()); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"requeued": seq})
}
