package rest

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/auth"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
)

// Action is the body of POST /api/v1/events/{id}/ack and /resolve. Who
// acts is who sent the request (package auth), never a name in the body:
// By may be left out, and if given it must be that name.
type Action struct {
	By   string `json:"by"`
	Note string `json:"note"`
}

// maxBody bounds request bodies.
const maxBody = 64 << 10

// DecodeAction reads an action of the authenticated by from a request
// body: JSON ({"note"}, and "by" only if it is by; nothing else) or a form
// (note). The action's By is by.
func DecodeAction(contentType string, body io.Reader, by string) (Action, error) {
	var a Action
	data, err := io.ReadAll(io.LimitReader(body, maxBody+1))
	if err != nil {
		return a, fmt.Errorf("%w: reading the body: %v", ledger.ErrInvalid, err)
	}
	if len(data) > maxBody {
		return a, fmt.Errorf("%w: body larger than %d bytes", ledger.ErrInvalid, maxBody)
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/x-www-form-urlencoded":
		q, err := url.ParseQuery(string(data))
		if err != nil {
			return a, fmt.Errorf("%w: bad form: %v", ledger.ErrInvalid, err)
		}
		a = Action{By: q.Get("by"), Note: q.Get("note")}
	case len(strings.TrimSpace(string(data))) == 0:
	default:
		if a, err = decodeJSON(data); err != nil {
			return Action{}, err
		}
	}
	if a.By = strings.TrimSpace(a.By); a.By != "" && a.By != by {
		return Action{}, fmt.Errorf(`%w: "by" is who sent the request (%q), not %q: leave it out`, ledger.ErrInvalid, by, a.By)
	}
	a.By, a.Note = by, strings.TrimSpace(a.Note)
	if err := ledger.CheckAction(a.By, a.Note); err != nil {
		return Action{}, err
	}
	return a, nil
}

// decodeJSON reads one JSON action object and nothing more.
func decodeJSON(data []byte) (Action, error) {
	var a Action
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return Action{}, fmt.Errorf(`%w: want a JSON object {"by": "...", "note": "..."}: %v`, ledger.ErrInvalid, err)
	}
	if dec.More() {
		return Action{}, fmt.Errorf("%w: trailing data after the JSON object", ledger.ErrInvalid)
	}
	return a, nil
}

func (h *Handler) action(w http.ResponseWriter, r *http.Request, do func(id, by, note string, now time.Time) (anomaly.Record, error)) {
	who, ok := auth.From(r.Context())
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "who acts is not known: authentication required"})
		return
	}
	a, err := DecodeAction(r.Header.Get("Content-Type"), r.Body, who.Name)
	if err != nil {
		writeError(w, err)
		return
	}
	rec, err := do(r.PathValue("id"), a.By, a.Note, h.clock())
	if err != nil {
		writeError(w, err)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
		writePage(w, ackView{Record: rec, Done: true, Local: h.local(rec.Start)})
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

type ackView struct {
	Record anomaly.Record
	Done   bool
	Local  string
	// As is who would acknowledge ("": the viewer may not).
	As string
}

const ackStyle = `body{font-family:sans-serif;margin:2em}input,textarea{display:block;margin:.5em 0 1em;width:20em}`

func writePage(w http.ResponseWriter, v ackView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", auth.PagePolicy(ackStyle))
	_ = ackPage.Execute(w, v)
}

var ackPage = template.Must(template.New("ack").Parse(`<!doctype html><html><head><meta charset="utf-8"><title>floorpulse event</title>
<meta name="viewport" content="width=device-width"><style>` + ackStyle + `</style></head><body>
<h1>{{.Record.Type}}: {{.Record.Line}}/{{.Record.Equipment}}</h1>
<p>Site {{.Record.Site}}, since {{.Local}}, severity {{.Record.Severity}}, status <b>{{.Record.Status}}</b>{{if .Record.AcknowledgedBy}} (acknowledged by {{.Record.AcknowledgedBy}}){{end}}.</p>
{{if .Record.Reason}}<p>{{.Record.Reason}}</p>{{end}}
{{if and (not .Done) .As (eq .Record.Status "opened")}}<form method="post"><p>Acknowledge as <b>{{.As}}</b>.</p>
<label>Note<textarea name="note" maxlength="4096"></textarea></label><button type="submit">Acknowledge</button></form>{{end}}
</body></html>`))

func (h *Handler) local(t time.Time) string { return t.In(h.loc).Format("2006-01-02 15:04 MST") }

// ackPage is a form: a GET never changes anything (link previews in chats fetch links).
func (h *Handler) ackPage(w http.ResponseWriter, r *http.Request) {
	rec, err := h.records.Get(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	v := ackView{Record: rec, Local: h.local(rec.Start)}
	if who, ok := auth.From(r.Context()); ok && who.Role >= auth.ShiftLeader {
		v.As = who.Name
	}
	writePage(w, v)
}
