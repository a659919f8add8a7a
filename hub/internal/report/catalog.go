package report

import (
	"embed"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Languages are the report's languages; the first is the default.
var Languages = []string{"en", "zh-CN"}

//go:embed catalog/*.json
var catalogFiles embed.FS

// catalogs holds every language's messages, by key.
var catalogs = loadCatalogs()

func loadCatalogs() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, lang := range Languages {
		b, err := catalogFiles.ReadFile("catalog/" + lang + ".json")
		if err != nil {
			panic(err) // embedded: a missing file is a build mistake
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			panic(fmt.Sprintf("catalog %s: %v", lang, err))
		}
		out[lang] = m
	}
	return out
}

// messages is one language's catalogue.
type messages struct {
	lang string
	m    map[string]string
}

func catalog(lang string) messages {
	if m, ok := catalogs[lang]; ok {
		return messages{lang, m}
	}
	return messages{Languages[0], catalogs[Languages[0]]}
}

// missing marks a key the catalogue lacks (tests look for it).
const missing = "!missing:"

// T is the message of key, formatted with args when there are any.
func (c messages) T(key string, args ...any) string {
	s, ok := c.m[key]
	if !ok {
		return missing + key
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// Has reports whether the catalogue has key (event types it does not know
// are shown as they are).
func (c messages) Has(key string) bool { _, ok := c.m[key]; return ok }

// Name is the translated name of a code (an event type, a status), or the
// code itself when the catalogue has none.
func (c messages) Name(prefix, code string) string {
	if s, ok := c.m[prefix+"."+code]; ok {
		return s
	}
	return code
}

// MonthName names month m ("October 2026", "2026年10月").
func (c messages) MonthName(year int, month time.Month) string {
	return c.T("month_name", year, c.T("m"+strconv.Itoa(int(month))), int(month))
}

// Num formats v with one decimal and thousands separators (both languages
// write numbers the same way).
func (c messages) Num(v float64) string {
	s := strconv.FormatFloat(v, 'f', 1, 64)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	out := b.String() + "." + frac
	if neg && out != "0.0" {
		out = "-" + out
	}
	return out
}

// Num3 formats v with three decimals (kWh per part).
func (c messages) Num3(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// Pct formats a fraction as a percentage with one decimal; nil is "–".
func (c messages) Pct(v *float64) string {
	if v == nil {
		return "–"
	}
	return strconv.FormatFloat(*v*100, 'f', 1, 64) + "%"
}

// Lang picks the report's language: param when it names one (lang=), else
// the first language of an Accept-Language header the report has (any zh
// but Traditional Chinese is zh-CN), else the default.
func Lang(param, acceptLanguage string) string {
	if l, ok := match(param); ok {
		return l
	}
	type pref struct {
		tag string
		q   float64
	}
	var prefs []pref
	for i, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if tag != "" && q > 0 {
			prefs = append(prefs, pref{tag, q - float64(i)*1e-6}) // stable: earlier first among equals
		}
	}
	sort.SliceStable(prefs, func(i, j int) bool { return prefs[i].q > prefs[j].q })
	for _, p := range prefs {
		if l, ok := match(p.tag); ok {
			return l
		}
	}
	return Languages[0]
}

// match maps a language tag to a report language.
func match(tag string) (string, bool) {
	t := strings.ToLower(strings.TrimSpace(tag))
	switch {
	case t == "":
		return "", false
	case t == "en" || strings.HasPrefix(t, "en-"):
		return "en", true
	case t == "zh-tw" || t == "zh-hk" || t == "zh-mo" || strings.HasPrefix(t, "zh-hant"):
		return "", false
	case t == "zh" || strings.HasPrefix(t, "zh-"):
		return "zh-CN", true
	}
	return "", false
}
