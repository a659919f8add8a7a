package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
)

// Action is the body of POST /api/v1/events/{id}/ack and /resolve.
type Action struct {
	By   string `json:"by"`
	Note string `json:"note"`
}

// maxBody bounds request bodies.
const maxBody = 64 << 10

// Handler serves the events API:
//
//	GET  /api/v1/events                          records: ?type=&site=&line=&equipment=&status=&since=&cursor=&limit=
//	GET  /api/v1/events/{id}                     one record
//	POST /api/v1/events/{id}/ack                 {"by": "...", "note": "..."} (JSON or a form)
//	POST /api/v1/events/{id}/resolve             {"by": "...", "note": "..."}
//	GET  /api/v1/events/{id}/ack                 a small HTML page to acknowledge (the link in messages)
//	GET  /api/v1/events/deadletters              failed deliveries: ?after=&limit=
//	POST /api/v1/events/deadletters/{seq}/retry  put one back into the outbox
func (s *Store) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/events", s.list)
	mux.HandleFunc("GET /api/v1/events/deadletters", s.deadLetters)
	mux.HandleFunc("POST /api/v1/events/deadletters/{seq}/retry", s.retry)
	mux.HandleFunc("GET /api/v1/events/{id}", s.get)
	mux.HandleFunc("GET /api/v1/events/{id}/ack", s.ackPage)
	mux.HandleFunc("POST /api/v1/events/{id}/ack", func(w http.ResponseWriter, r *http.Request) { s.action(w, r, s.Ack) })
	mux.HandleFunc("POST /api/v1/events/{id}/resolve", func(w http.ResponseWriter, r *http.Request) { s.action(w, r, s.Resolve) })
	return mux
}

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
	case errors.Is(err, ErrInvalid):
		code = http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, ErrConflict):
		code = http.StatusConflict
	}
	writeJSON(w, code, map[string]string{"error": err.Error()})
}

// ParseFilter reads the list query: the filter, the cursor and the limit (1..1000, default 100).
func ParseFilter(q url.Values) (Filter, string, int, error) {
	f := Filter{Type: q.Get("type"), Site: q.Get("site"), Line: q.Get("line"), Equipment: q.Get("equipment"), Status: q.Get("status")}
	for k := range q {
		switch k {
		case "type", "site", "line", "equipment", "status", "since", "cursor", "limit":
		default:
			return f, "", 0, fmt.Errorf("%w: unknown parameter %q (want type, site, line, equipment, status, since, cursor or limit)", ErrInvalid, k)
		}
	}
	if f.Type != "" && !slices.Contains(anomaly.Types, f.Type) {
		return f, "", 0, fmt.Errorf("%w: unknown type %q (want one of %s)", ErrInvalid, f.Type, strings.Join(anomaly.Types, ", "))
	}
	switch f.Status {
	case "", anomaly.Opened, anomaly.Acknowledged, anomaly.Resolved:
	default:
		return f, "", 0, fmt.Errorf("%w: unknown status %q (want opened, acknowledged or resolved)", ErrInvalid, f.Status)
	}
	if v := q.Get("since"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return f, "", 0, fmt.Errorf("%w: since must be an RFC 3339 time like 2026-10-01T06:00:00Z (got %q)", ErrInvalid, v)
		}
		f.Since = t
	}
	limit := 100
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return f, "", 0, fmt.Errorf("%w: limit must be between 1 and 1000 (got %q)", ErrInvalid, v)
		}
		limit = n
	}
	return f, q.Get("cursor"), limit, nil
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

func (s *Store) list(w http.ResponseWriter, r *http.Request) {
	f, cursor, limit, err := ParseFilter(r.URL.Query())
	if err != nil {
		writeError(w, err)
		return
	}
	recs, next, more, err := s.List(f, cursor, limit)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, ListJSON{Events: recs, Next: next, More: more})
}

func (s *Store) get(w http.ResponseWriter, r *http.Request) {
	rec, err := s.Get(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

// checkAction checks who acts and the note.
func checkAction(by, note string) error {
	switch {
	case strings.TrimSpace(by) == "":
		return fmt.Errorf(`%w: "by" is required: who acknowledges or resolves`, ErrInvalid)
	case len(by) > maxBy || !utf8.ValidString(by) || strings.ContainsFunc(by, isControl):
		return fmt.Errorf(`%w: "by" must be printable text of at most %d bytes`, ErrInvalid, maxBy)
	case len(note) > maxNote || !utf8.ValidString(note):
		return fmt.Errorf(`%w: "note" must be UTF-8 text of at most %d bytes`, ErrInvalid, maxNote)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// DecodeAction reads an action from a request body: JSON ({"by","note"},
// nothing else) or a form (by, note). by is trimmed and required.
func DecodeAction(contentType string, body io.Reader) (Action, error) {
	var a Action
	data, err := io.ReadAll(io.LimitReader(body, maxBody+1))
	if err != nil {
		return a, fmt.Errorf("%w: reading the body: %v", ErrInvalid, err)
	}
	if len(data) > maxBody {
		return a, fmt.Errorf("%w: body larger than %d bytes", ErrInvalid, maxBody)
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" {
		q, err := url.ParseQuery(string(data))
		if err != nil {
			return a, fmt.Errorf("%w: bad form: %v", ErrInvalid, err)
		}
		a = Action{By: q.Get("by"), Note: q.Get("note")}
	} else {
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&a); err != nil {
			return Action{}, fmt.Errorf(`%w: want a JSON object {"by": "...", "note": "..."}: %v`, ErrInvalid, err)
		}
		if dec.More() {
			return Action{}, fmt.Errorf("%w: trailing data after the JSON object", ErrInvalid)
		}
	}
	a.By, a.Note = strings.TrimSpace(a.By), strings.TrimSpace(a.Note)
	if err := checkAction(a.By, a.Note); err != nil {
		return Action{}, err
	}
	return a, nil
}

func (s *Store) action(w http.ResponseWriter, r *http.Request, do func(id, by, note string, now time.Time) (anomaly.Record, error)) {
	a, err := DecodeAction(r.Header.Get("Content-Type"), r.Body)
	if err != nil {
		writeError(w, err)
		return
	}
	rec, err := do(r.PathValue("id"), a.By, a.Note, s.opts.Clock())
	if err != nil {
		writeError(w, err)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = ackPage.Execute(w, ackView{Record: rec, Done: true, Local: rec.Start.In(s.opts.Location).Format("2006-01-02 15:04 MST")})
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

type ackView struct {
	Record anomaly.Record
	Done   bool
	Local  string
}

var ackPage = template.Must(template.New("ack").Parse(`<!doctype html><html><head><meta charset="utf-8"><title>floorpulse event</title>
<meta name="viewport" content="width=device-width"><style>body{font-family:sans-serif;margin:2em}input,textarea{display:block;margin:.5em 0 1em;width:20em}</style></head><body>
<h1>{{.Record.Type}}: {{.Record.Line}}/{{.Record.Equipment}}</h1>
<p>Site {{.Record.Site}}, since {{.Local}}, severity {{.Record.Severity}}, status <b>{{.Record.Status}}</b>{{if .Record.AcknowledgedBy}} (acknowledged by {{.Record.AcknowledgedBy}}){{end}}.</p>
{{if .Record.Reason}}<p>{{.Record.Reason}}</p>{{end}}
{{if and (not .Done) (eq .Record.Status "opened")}}<form method="post"><label>Your name<input name="by" required maxlength="128"></label>
<label>Note<textarea name="note" maxlength="4096"></textarea></label><button type="submit">Acknowledge</button></form>{{end}}
</body></html>`))

// ackPage is a form: a GET never changes anything (link previews in chats fetch links).
func (s *Store) ackPage(w http.ResponseWriter, r *http.Request) {
	rec, err := s.Get(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = ackPage.Execute(w, ackView{Record: rec, Local: rec.Start.In(s.opts.Location).Format("2006-01-02 15:04 MST")})
}

func (s *Store) deadLetters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after uint64
	limit := 100
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, fmt.Errorf("%w: after must be a sequence number (got %q)", ErrInvalid, v))
			return
		}
		after = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, fmt.Errorf("%w: limit must be between 1 and 1000 (got %q)", ErrInvalid, v))
			return
		}
		limit = n
	}
	dls, err := s.DeadLetters(after, limit)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"deadletters": dls})
}

func (s *Store) retry(w http.ResponseWriter, r *http.Request) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil {
		writeError(w, fmt.Errorf("%w: not a sequence number: %q", ErrInvalid, r.PathValue("seq")))
		return
	}
	if err := s.Redeliver(seq, s.opts.Clock()); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"requeued": seq})
}
