package masterdata

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"

	"github.com/floorpulse/floorpulse/hub/internal/auth"
)

// MaxBody bounds an import's body.
const MaxBody = 32 << 20

// Handler serves the master data API (the routes' roles are in package auth):
//
//	PUT /api/v1/masterdata/{entity}[?dry_run=1]  CSV (text/csv) or JSON (application/json) rows
//	GET /api/v1/masterdata/{entity}[?format=csv|json]
//	GET /api/v1/masterdata/audit[?after=SEQ&limit=N | ?last&limit=N]
func Handler(s *Service, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /api/v1/masterdata/{entity}", func(w http.ResponseWriter, r *http.Request) { put(s, log, w, r) })
	mux.HandleFunc("GET /api/v1/masterdata/audit", func(w http.ResponseWriter, r *http.Request) { audit(s, w, r) })
	mux.HandleFunc("GET /api/v1/masterdata/{entity}", func(w http.ResponseWriter, r *http.Request) { export(s, w, r) })
	return mux
}

// ImportJSON is the answer of a PUT: what changed (or would), or every
// problem of the rows (nothing applied; 422, or 200 for a dry run).
type ImportJSON struct {
	DryRun   bool     `json:"dry_run"`
	Diff     *Diff    `json:"diff,omitempty"`
	Problems Problems `json:"problems,omitempty"`
}

// isJSON reports whether a request's body (or wanted answer) is JSON.
func isJSON(h string) bool {
	mt, _, _ := mime.ParseMediaType(h)
	return mt == "application/json"
}

// Parse reads an import body: JSON when the content type says so, CSV otherwise.
func (s *Service) Parse(e Entity, contentType string, body io.Reader) ([]Record, error) {
	known, err := s.Known()
	if err != nil {
		return nil, err
	}
	if isJSON(contentType) {
		return ParseJSON(e, body, known, s.base.Location)
	}
	return ParseCSV(e, body, known, s.base.Location)
}

// Who is the name an import is audited under: the user's or the token's.
func Who(r *http.Request) string {
	if id, ok := auth.From(r.Context()); ok {
		return id.Name
	}
	return "unknown"
}

func put(s *Service, log *slog.Logger, w http.ResponseWriter, r *http.Request) {
	e, err := ParseEntity(r.PathValue("entity"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	dry := r.URL.Query().Get("dry_run") == "1" || r.URL.Query().Get("dry_run") == "true"
	recs, err := s.Parse(e, r.Header.Get("Content-Type"), http.MaxBytesReader(w, r.Body, MaxBody))
	var probs Problems
	switch {
	case errors.As(err, &probs):
		// A dry run is a check: it did its work, and its answer is the
		// problems. An import that cannot be applied is refused.
		code := http.StatusUnprocessableEntity
		if dry {
			code = http.StatusOK
		}
		writeJSON(w, code, ImportJSON{DryRun: dry, Problems: probs})
		return
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	d, err := s.Import(e, recs, Who(r), dry)
	if err != nil {
		log.Error("master data import failed", "entity", e, "err", err)
		http.Error(w, "import failed, nothing applied: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if !dry && len(d.Changes) > 0 {
		log.Info("master data imported", "entity", e, "by", Who(r), "added", d.Added, "changed", d.Changed, "unchanged", d.Unchanged)
	}
	writeJSON(w, http.StatusOK, ImportJSON{DryRun: dry, Diff: &d})
}

func export(s *Service, w http.ResponseWriter, r *http.Request) {
	e, err := ParseEntity(r.PathValue("entity"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	recs, err := s.Records(e)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" && isJSON(r.Header.Get("Accept")) {
		format = "json"
	}
	switch format {
	case "json":
		if recs == nil {
			recs = []Record{}
		}
		writeJSON(w, http.StatusOK, recs)
	case "", "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="`+string(e)+`.csv"`)
		_ = WriteCSV(w, e, recs)
	default:
		http.Error(w, "format: want csv or json", http.StatusBadRequest)
	}
}

func audit(s *Service, w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after, limit := uint64(0), 100
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			http.Error(w, "after: want a sequence number", http.StatusBadRequest)
			return
		}
		after = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			http.Error(w, "limit: want 1 to 1000", http.StatusBadRequest)
			return
		}
		limit = n
	}
	var changes []Change
	var err error
	if q.Has("last") {
		changes, err = s.AuditLast(limit) // the latest, for the page
	} else {
		changes, err = s.Audit(after, limit)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"changes": changes})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
