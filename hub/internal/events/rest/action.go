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
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
)

// Action is the body of POST /api/v1/events/{id}/ack and /resolve.
type Action struct {
	By   string `json:"by"`
	Note string `json:"note"`
}

// maxBody bounds request bodies.
const maxBody = 64 << 10

// DecodeAction reads an action from a request body: JSON ({"by","note"},
// nothing else) or a form (by, note). by is trimmed and required.
func DecodeAction(contentType string, body io.Reader) (Action, error) {
	var a Action
	data, err := io.ReadAll(io.LimitReader(body, maxBody+1))
	if err != nil {
		return a, fmt.Errorf("%w: reading the body: %v", ledger.ErrInvalid, err)
	}
	if len(data) > maxBody {
		return a, fmt.Errorf("%w: body larger than %d bytes", ledger.ErrInvalid, maxBody)
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" {
		q, err := url.ParseQuery(string(data))
		if err != nil {
			return a, fmt.Errorf("%w: bad form: %v", ledger.ErrInvalid, err)
		}
		a = Action{By: q.Get("by"), Note: q.Get("note")}
	} else if a, err = decodeJSON(data); err != nil {
		return Action{}, err
	}
	a.By, a.Note = strings.TrimSpace(a.By), strings.TrimSpace(a.Note)
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
	a, err := DecodeAction(r.Header.Get("Content-Type"), r.Body)
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
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = ackPage.Execute(w, ackView{Record: rec, Done: true, Local: h.local(rec.Start)})
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

func (h *Handler) local(t time.Time) string { return t.In(h.loc).Format("2006-01-02 15:04 MST") }

// ackPage is a form: a GET never changes anything (link previews in chats fetch links).
func (h *Handler) ackPage(w http.ResponseWriter, r *http.Request) {
	rec, err := h.records.Get(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = ackPage.Execute(w, ackView{Record: rec, Local: h.local(rec.Start)})
}
