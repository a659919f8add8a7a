// Package web serves the hub's pages: the plant overview, a line with its
// state timeline, a machine, the operators, the events, the actions, a
// line's live board and the wall display. Pages are html/template files and static assets
// embedded in the binary (charts by Apache ECharts, pinned in static/), so
// the hub serves the whole interface with no internet access. Every string
// comes from a message catalogue (en, zh-CN); times are shown in the plant's
// zone, with the zone.
//
// What always holds: every response of a page carries a strict
// Content-Security-Policy (scripts and styles only from the hub itself, no
// inline script or style); a page's figures are those of package api for the
// same month; the live pages are pushed (server-sent events), never reloaded.
// Who may see and do what is decided in front of this handler (package auth):
// a page shows the acknowledge and resolve buttons only to the roles the
// events API lets do it.
package web

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/action"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
	"github.com/floorpulse/floorpulse/hub/internal/segment"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

//go:embed locales/*.json
var localeFS embed.FS

// Events lists anomaly event records (the hub's event store).
type Events interface {
	List(f ledger.Filter, cursor string, limit int) (recs []anomaly.Record, next string, more bool, err error)
}

// Options configure the pages.
type Options struct {
	Engine   *engine.Engine
	Location *time.Location
	Site     string
	// Events is the event store (nil: pages show no events).
	Events Events
	// API serves every request the pages do not (the JSON API).
	API http.Handler
	// Clock is where now is read (default time.Now).
	Clock func() time.Time
	// MasterData serves the admin page that imports master data (the API
	// under /api/v1/masterdata/ is served by opts.API).
	MasterData bool
	// OperatorNames returns the operators' names by id (nil: ids only).
	OperatorNames func() map[string]string
	// Poll is how often a live stream looks for a change (default 500 ms).
	Poll time.Duration
	Log  *slog.Logger
	// Segments assigns the monthly segments (nil: the pages show none).
	Segments *segment.Source
	// Actions are the tracked actions and how their effects are measured
	// (nil: no actions page, no open-action buttons).
	Actions *action.Options
}

// handler serves the pages.
type handler struct {
	opts  Options
	pages *pages
	open  *openIndex // the events not resolved
}

// New returns the pages in front of opts.API.
func New(opts Options) (http.Handler, error) {
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Poll <= 0 {
		opts.Poll = 500 * time.Millisecond
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.API == nil {
		opts.API = http.NotFoundHandler()
	}
	ps, err := loadPages(opts.Location)
	if err != nil {
		return nil, err
	}
	h := &handler{opts: opts, pages: ps}
	if opts.Events != nil {
		h.open = newOpenIndex(opts.Events, opts.Log)
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.overview)
	mux.HandleFunc("GET /lines/{line}", h.line)
	mux.HandleFunc("GET /lines/{line}/live", h.board)
	mux.HandleFunc("GET /machines/{line}/{equipment}", h.machine)
	mux.HandleFunc("GET /operators", h.operators)
	mux.HandleFunc("GET /events", h.events)
	mux.HandleFunc("GET /actions", h.actions)
	mux.HandleFunc("GET /wall", h.wall)
	if opts.MasterData {
		mux.HandleFunc("GET /masterdata", h.masterData)
	}
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(static)))
	mux.HandleFunc("GET /api/v1/lines/{line}/stream", h.stream)
	mux.HandleFunc("GET /api/v1/trend", h.trendJSON)
	mux.HandleFunc("GET /api/v1/equipment/{line}/{equipment}/history", h.historyJSON)
	mux.Handle("/", opts.API)
	return mux, nil
}

// staticHandler serves the embedded assets; they change only with the
// binary, so a browser may keep them for a day.
func staticHandler(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})
}
