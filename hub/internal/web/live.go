package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/api"
)

// ping is how often a quiet stream sends a comment, so proxies and the
// browser keep it open.
const ping = 15 * time.Second

// board serves a line's live board: phone first, pushed by the line's stream.
func (h *handler) board(w http.ResponseWriter, r *http.Request) {
	v, l := h.start(w, r, "board")
	line := r.PathValue("line")
	v.Title = l.T("board.title", line)
	now := api.LineNow(h.opts.Engine, h.opts.Location, h.opts.Site, line, h.opts.Clock(), h.openEvents)
	if len(now.Machines) == 0 {
		http.NotFound(w, r)
		return
	}
	v.P = now
	v.Data = map[string]any{"i18n": h.pages.cats[v.Lang], "zone": h.opts.Location.String(), "line": line,
		"now": now, "can_act": v.CanAct}
	h.render(w, v)
}

// wall serves the wall display: dark, large, live, rotating through the
// lines (?line= holds it on one; ?every= sets the seconds per line).
func (h *handler) wall(w http.ResponseWriter, r *http.Request) {
	v, l := h.start(w, r, "wall")
	v.Title, v.Dark = l.T("wall.title"), true
	lines := h.opts.Engine.Lines(h.opts.Site)
	if line := r.URL.Query().Get("line"); line != "" {
		lines = []string{line}
	}
	every := 20
	if s := r.URL.Query().Get("every"); s != "" {
		if _, err := fmt.Sscanf(s, "%d", &every); err != nil || every < 5 || every > 600 {
			every = 20
		}
	}
	v.Data = map[string]any{"i18n": h.pages.cats[v.Lang], "zone": h.opts.Location.String(), "lines": nonNil(lines), "every": every}
	h.render(w, v)
}

// stream serves GET /api/v1/lines/{line}/stream: server-sent events, one
// "line" event with the line's state (as /api/v1/lines/{line}/now answers
// it) when the stream opens and whenever it changes, looked for every Poll.
func (h *handler) stream(w http.ResponseWriter, r *http.Request) {
	line := r.PathValue("line")
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives the server's write timeout
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	tick := time.NewTicker(h.opts.Poll)
	defer tick.Stop()
	var last []byte
	lastWrite := time.Now()
	for {
		snap := api.LineNow(h.opts.Engine, h.opts.Location, h.opts.Site, line, h.opts.Clock(), h.openEvents)
		now := snap.Now
		snap.Now = time.Time{}
		key, err := json.Marshal(snap)
		if err != nil {
			return
		}
		out := ""
		switch {
		case !bytes.Equal(key, last):
			snap.Now = now
			data, _ := json.Marshal(snap)
			out, last = "event: line\ndata: "+string(data)+"\n\n", key
		case time.Since(lastWrite) >= ping:
			out = ": ping\n\n"
		}
		if out != "" {
			if _, err := fmt.Fprint(w, out); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
			lastWrite = time.Now()
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}
