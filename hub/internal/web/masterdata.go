package web

import "net/http"

// masterDataEntities are the entities the master data page imports, in
// the order their references need them.
var masterDataEntities = []string{"sites", "lines", "equipment", "operators", "shifts", "planned_stops", "closures", "rosters"}

// masterDataPage is the master data page's own fields.
type masterDataPage struct {
	Entities []string
}

// masterData serves the admin page that imports master data files: the
// script checks a file (a dry run of PUT /api/v1/masterdata/{entity}),
// shows every problem or what would change, applies it, and lists the
// audit log; the API does the work.
func (h *handler) masterData(w http.ResponseWriter, r *http.Request) {
	v, l := h.start(w, r, "masterdata")
	v.Title = l.T("masterdata.title")
	v.P = masterDataPage{Entities: masterDataEntities}
	v.Data = map[string]any{"i18n": h.pages.cats[v.Lang], "zone": h.opts.Location.String()}
	h.render(w, v)
}
