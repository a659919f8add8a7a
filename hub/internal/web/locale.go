package web

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Languages the pages speak, the first the default.
var Languages = []string{"en", "zh-CN"}

// langCookie remembers a language chosen with ?lang=.
const langCookie = "floorpulse_lang"

// Catalog is one language's messages by key.
type Catalog map[string]string

// loadCatalogs reads the embedded message catalogues, one per language.
func loadCatalogs() (map[string]Catalog, error) {
	out := map[string]Catalog{}
	for _, lang := range Languages {
		data, err := localeFS.ReadFile("locales/" + lang + ".json")
		if err != nil {
			return nil, fmt.Errorf("catalogue %s: %w", lang, err)
		}
		var c Catalog
		if err := json.Unmarshal(data, &c); err != nil {
			return nil, fmt.Errorf("catalogue %s: %w", lang, err)
		}
		out[lang] = c
	}
	return out, nil
}

// language picks the language of a request: ?lang= (remembered in a
// cookie), then the cookie, then the browser's Accept-Language, then English.
func language(w http.ResponseWriter, r *http.Request) string {
	if l, ok := known(r.URL.Query().Get("lang")); ok {
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: l, Path: "/", MaxAge: 365 * 24 * 3600,
			HttpOnly: true, SameSite: http.SameSiteLaxMode})
		return l
	}
	if c, err := r.Cookie(langCookie); err == nil {
		if l, ok := known(c.Value); ok {
			return l
		}
	}
	return acceptLanguage(r.Header.Get("Accept-Language"))
}

// known maps a language tag to one of Languages: any Chinese to zh-CN
// (the catalogue is Simplified Chinese), any English to en.
func known(tag string) (string, bool) {
	t := strings.ToLower(strings.TrimSpace(tag))
	switch {
	case t == "":
		return "", false
	case t == "zh" || strings.HasPrefix(t, "zh-") || strings.HasPrefix(t, "zh_"):
		return "zh-CN", true
	case t == "en" || strings.HasPrefix(t, "en-") || strings.HasPrefix(t, "en_"):
		return "en", true
	}
	return "", false
}

// acceptLanguage returns the language of Languages the header prefers most.
func acceptLanguage(h string) string {
	type pref struct {
		lang string
		q    float64
		i    int
	}
	var prefs []pref
	for i, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(part, ";")
		l, ok := known(tag)
		if !ok {
			continue
		}
		q := 1.0
		if v, found := strings.CutPrefix(strings.TrimSpace(params), "q="); found {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		prefs = append(prefs, pref{l, q, i})
	}
	sort.SliceStable(prefs, func(a, b int) bool { return prefs[a].q > prefs[b].q })
	if len(prefs) > 0 && prefs[0].q > 0 {
		return prefs[0].lang
	}
	return Languages[0]
}

// locale formats numbers and times for one language.
type locale struct {
	lang string
	cat  Catalog
	loc  *time.Location
}

// T returns the message of key (the key itself, marked, when missing: a
// test makes sure none is).
func (l locale) T(key string, args ...any) string {
	m, ok := l.cat[key]
	if !ok {
		return "!" + key + "!"
	}
	if len(args) > 0 {
		return fmt.Sprintf(m, args...)
	}
	return m
}

// Num formats f with d decimals and the language's digit grouping.
func (l locale) Num(f float64, d int) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "–"
	}
	s := strconv.FormatFloat(math.Abs(f), 'f', d, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	group, dec := l.cat["fmt.group"], l.cat["fmt.decimal"]
	var b strings.Builder
	if f < 0 && strings.Trim(s, "0.") != "" {
		b.WriteString("-")
	}
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteString(group)
		}
		b.WriteRune(c)
	}
	if frac != "" {
		b.WriteString(dec + frac)
	}
	return b.String()
}

// Pct formats a ratio as a percentage with one decimal.
func (l locale) Pct(f float64) string { return l.Num(f*100, 1) + "%" }

// PctP formats an optional ratio ("–" when absent).
func (l locale) PctP(f *float64) string {
	if f == nil {
		return "–"
	}
	return l.Pct(*f)
}

// Hours formats hours with one decimal.
func (l locale) Hours(f float64) string { return l.Num(f, 1) }

// Time formats t in the plant's zone, with the zone.
func (l locale) Time(t time.Time) string { return t.In(l.loc).Format(l.cat["fmt.datetime"]) }

// TimeP formats an optional time ("–" when absent).
func (l locale) TimeP(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "–"
	}
	return l.Time(*t)
}

// Month formats a month name (YYYY-MM) in the language.
func (l locale) Month(name string) string {
	t, err := time.ParseInLocation("2006-01", name, l.loc)
	if err != nil {
		return name
	}
	return t.Format(l.cat["fmt.month"])
}

// MonthShort formats a month name (YYYY-MM) briefly, for table heads.
func (l locale) MonthShort(name string) string {
	t, err := time.ParseInLocation("2006-01", name, l.loc)
	if err != nil {
		return name
	}
	return t.Format(l.cat["fmt.month_short"])
}

// Day formats a day (YYYY-MM-DD) in the language.
func (l locale) Day(name string) string {
	t, err := time.ParseInLocation("2006-01-02", name, l.loc)
	if err != nil {
		return name
	}
	return t.Format(l.cat["fmt.day"])
}

// Zone names the plant's zone with its current abbreviation.
func (l locale) Zone(now time.Time) string {
	abbr, _ := now.In(l.loc).Zone()
	if abbr == l.loc.String() {
		return abbr
	}
	return l.loc.String() + " (" + abbr + ")"
}
