package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/auth"
	"github.com/floorpulse/floorpulse/hub/internal/state"
)

// Policy is the Content-Security-Policy of every page: scripts, styles,
// and the streams and JSON the scripts read, only from the hub itself; no
// inline script or style, no plug-in, no frame, forms post only here.
const Policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// pageNames are the page templates (templates/<name>.html, each defining
// "content" for templates/layout.html).
var pageNames = []string{"overview", "line", "machine", "operators", "events", "actions", "board", "wall", "masterdata"}

// pages are the parsed templates of every page in every language.
type pages struct {
	cats map[string]Catalog
	tmpl map[string]map[string]*template.Template // language, page
}

// loadPages parses the embedded templates once per language, with that
// language's message catalogue and formats.
func loadPages(loc *time.Location) (*pages, error) {
	cats, err := loadCatalogs()
	if err != nil {
		return nil, err
	}
	version, err := assetVersion()
	if err != nil {
		return nil, err
	}
	asset := func(name string) string { return "/static/" + name + "?v=" + version }
	ps := &pages{cats: cats, tmpl: map[string]map[string]*template.Template{}}
	for _, lang := range Languages {
		l := locale{lang: lang, cat: cats[lang], loc: loc}
		funcs := template.FuncMap{
			"t": l.T, "num": l.Num, "pct": l.Pct, "pctp": l.PctP, "hours": l.Hours,
			"time": l.Time, "timep": l.TimeP, "month": l.Month, "monthshort": l.MonthShort, "day": l.Day,
			"asset": asset,
			"inc":   func(i int) int { return i + 1 }, "list": func(s ...string) []string { return s },
			"states": func() []string { return stateNames }, "deref": func(b *bool) bool { return b != nil && *b },
			"deref64":      func(f *float64) float64 { return *f },
			"secondsHours": func(s float64) string { return l.Hours(s / 3600) },
			"alarmCode":    func(code string) string { return alarmLabel(l, code) },
			"pbt":          func(x api.LossJSON) float64 { return x.Availability + x.Performance + x.Quality + x.Productive },
			"div":          func(a, b float64) float64 { return a / b },
			"waste":        func(st string) bool { return wasteStates[st] },
			"oeeRows": func(rows any, month string, machines bool) map[string]any {
				return map[string]any{"Rows": rows, "Month": month, "Machines": machines}
			},
			"segName": func(s string) string {
				if s == "" {
					return l.T("segments.none")
				}
				return l.T("segments.name." + s)
			},
			"mul100": func(v float64) float64 { return v * 100 },
			"signed": func(v float64, d int) string {
				if v > 0 {
					return "+" + l.Num(v, d)
				}
				return l.Num(v, d)
			},
		}
		ps.tmpl[lang] = map[string]*template.Template{}
		for _, name := range pageNames {
			t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/alarms.html", "templates/oee.html", "templates/segments.html", "templates/"+name+".html")
			if err != nil {
				return nil, fmt.Errorf("page %s: %w", name, err)
			}
			ps.tmpl[lang][name] = t
		}
	}
	return ps, nil
}

// alarmLabel names an alarm bucket: its code, or "no alarm" and "unknown
// alarm" for the buckets of those (state.NoAlarm, state.UnknownAlarm).
func alarmLabel(l locale, code string) string {
	switch code {
	case state.NoAlarm:
		return l.T("alarm.none")
	case state.UnknownAlarm:
		return l.T("alarm.unknown")
	}
	return code
}

// wasteStates names the states whose energy is waste (activity.WasteStates).
var wasteStates = func() map[string]bool {
	out := map[string]bool{}
	for _, s := range activity.WasteStates {
		out[s.String()] = true
	}
	return out
}()

// stateNames are the states in the order the pages show them: unknown last.
var stateNames = func() []string {
	var out []string
	for s := state.Unknown + 1; s < state.NumStates; s++ {
		out = append(out, s.String())
	}
	return append(out, state.Unknown.String())
}()

// view is what the layout and a page are rendered from.
type view struct {
	Lang, Page string
	// Title is the page's title (already translated).
	Title string
	Site  string
	// Zone names the plant's time zone (every time shown is in it).
	Zone string
	// User and Role are who is logged in ("" without authentication).
	User, Role string
	// CanAct: the role may acknowledge and resolve events, and open and
	// change actions.
	CanAct bool
	// MasterData: the hub imports master data and the role may (admin).
	MasterData bool
	// HasActions: the hub tracks actions (the open-action links are shown).
	HasActions bool
	// Langs link to this page in each language.
	Langs []langLink
	// Month and Months: the chosen month and every month with data.
	Month  string
	Months []string
	// Dark: the wall display's theme.
	Dark bool
	// P holds the page's own fields; Data what its script reads (JSON).
	P    any
	Data any
}

// langLink is a link to a page in one language.
type langLink struct {
	Lang, Href string
	Current    bool
}

// start reads a request's language and identity into a view, and the
// locale to format the page's figures with.
func (h *handler) start(w http.ResponseWriter, r *http.Request, page string) (*view, locale) {
	lang := language(w, r)
	l := locale{lang: lang, cat: h.pages.cats[lang], loc: h.opts.Location}
	q := r.URL.Query()
	q.Del("lang")
	path := r.URL.Path
	if enc := q.Encode(); enc != "" {
		path += "?" + enc
	}
	v := &view{Lang: lang, Page: page, Site: h.opts.Site, Zone: l.Zone(h.opts.Clock()), HasActions: h.opts.Actions != nil}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	for _, other := range Languages {
		v.Langs = append(v.Langs, langLink{Lang: other, Href: path + sep + "lang=" + url.QueryEscape(other), Current: other == lang})
	}
	if id, ok := auth.From(r.Context()); ok {
		v.User, v.Role, v.CanAct = id.Name, id.Role.String(), id.Role >= auth.ShiftLeader
		v.MasterData = h.opts.MasterData && id.Role >= auth.Admin
	}
	return v, l
}

// render writes the page with its policy.
func (h *handler) render(w http.ResponseWriter, v *view) {
	var buf bytes.Buffer
	if err := h.pages.tmpl[v.Lang][v.Page].ExecuteTemplate(&buf, "layout.html", v); err != nil {
		h.opts.Log.Error("rendering a page", "page", v.Page, "err", err)
		http.Error(w, "page error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", Policy)
	_, _ = w.Write(buf.Bytes())
}

// assetVersion is a digest of the embedded assets: their links carry it, so
// a browser that kept them (they are cached for a day) fetches them again
// from a hub with other ones.
func assetVersion() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(staticFS, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil))[:12], err
}
