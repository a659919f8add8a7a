package web

import (
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/action"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/auth"
	"github.com/floorpulse/floorpulse/hub/internal/masterdata"
	"github.com/floorpulse/floorpulse/hub/internal/segment"
	"github.com/floorpulse/floorpulse/hub/internal/state"
)

// Every language has every key, and no other.
func TestCatalogsHaveSameKeys(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	ref := cats[Languages[0]]
	for _, lang := range Languages[1:] {
		for k := range ref {
			if _, ok := cats[lang][k]; !ok {
				t.Errorf("%s lacks %q", lang, k)
			}
		}
		for k := range cats[lang] {
			if _, ok := ref[k]; !ok {
				t.Errorf("%s has %q, which %s lacks", lang, k, Languages[0])
			}
		}
	}
	for lang, c := range cats {
		for k, v := range c {
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s: %q is empty", lang, k)
			}
		}
	}
}

// Every key the templates and the script use is in the catalogue, and so
// is every name they look up by prefix (states, event types, statuses,
// severities, tiers, roles, languages).
func TestCatalogHasEveryUsedKey(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]string{}
	tkey := regexp.MustCompile(`\bt "([A-Za-z0-9_.-]+)"`)
	err = fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := templateFS.ReadFile(path)
		for _, m := range tkey.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = path
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	js, err := staticFS.ReadFile("static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\bT\('([A-Za-z0-9_.-]+)'\)`).FindAllStringSubmatch(string(js), -1) {
		used[m[1]] = "app.js"
	}
	if len(used) < 50 {
		t.Fatalf("only %d keys found in the templates and the script: is the pattern stale?", len(used))
	}
	for s := state.Unknown; s.String() != "" && !strings.HasPrefix(s.String(), "state("); s++ {
		used["state."+s.String()] = "state"
	}
	for _, typ := range anomaly.Types {
		used["type."+typ] = "anomaly types"
	}
	for _, s := range []string{anomaly.Opened, anomaly.Acknowledged, anomaly.Resolved} {
		used["status."+s] = "anomaly statuses"
	}
	for _, s := range []string{anomaly.Info, anomaly.Warning, anomaly.Critical} {
		used["sev."+s] = "anomaly severities"
	}
	for _, s := range segment.Names {
		used["segments.name."+s] = "segments"
	}
	for _, k := range []string{segment.Equipment, segment.Operator} {
		used["segments.title."+k], used["segments.who."+k] = "segment kinds", "segment kinds"
	}
	for _, s := range action.Statuses {
		used["actions.status."+s] = "action statuses"
	}
	for _, k := range []string{action.SubjectEvent, action.SubjectSegment, action.SubjectMachine, action.SubjectLine} {
		used["actions.kind."+k] = "action subjects"
	}
	for _, f := range []string{"created", "what", "owner", "due", "status", "note"} {
		used["actions.field."+f] = "action history"
	}
	for _, s := range []string{"high", "medium", "low", "inactive"} {
		used["tier."+s] = "tiers"
	}
	for _, r := range []auth.Role{auth.Viewer, auth.ShiftLeader, auth.Admin} {
		used["role."+r.String()] = "roles"
	}
	for _, l := range Languages {
		used["lang."+l] = "languages"
	}
	for _, e := range masterDataEntities {
		used["masterdata.entity."+e] = "master data entities"
	}
	for code := range masterdata.Messages() {
		used["masterdata.problem."+code] = "master data problems"
	}
	keys := make([]string, 0, len(used))
	for k := range used {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, lang := range Languages {
		for _, k := range keys {
			if _, ok := cats[lang][k]; !ok {
				t.Errorf("%s lacks %q (used in %s)", lang, k, used[k])
			}
		}
	}
}

func TestLanguageChoice(t *testing.T) {
	for _, c := range []struct{ header, want string }{
		{"", "en"},
		{"zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"},
		{"zh-TW", "zh-CN"},
		{"en-US,en;q=0.9", "en"},
		{"fr-FR, zh;q=0.5, en;q=0.4", "zh-CN"},
		{"de-DE", "en"},
		{"en;q=0.2, zh", "zh-CN"},
	} {
		if got := acceptLanguage(c.header); got != c.want {
			t.Errorf("Accept-Language %q: %s, want %s", c.header, got, c.want)
		}
	}
}

func TestNumbersAndTimes(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	en := locale{lang: "en", cat: cats["en"], loc: loc}
	zh := locale{lang: "zh-CN", cat: cats["zh-CN"], loc: loc}
	at := time.Date(2026, 10, 5, 6, 30, 0, 0, time.UTC)
	for _, c := range []struct{ got, want string }{
		{en.Num(1234567.891, 1), "1,234,567.9"},
		{en.Num(-0.04, 1), "0.0"},
		{en.Num(-1234.6, 0), "-1,235"},
		{en.Pct(0.8766), "87.7%"},
		{en.Time(at), "5 Oct 2026 14:30 CST"},
		{zh.Time(at), "2026年10月5日 14:30 CST"},
		{en.Month("2026-10"), "October 2026"},
		{zh.Month("2026-10"), "2026年10月"},
		{en.MonthShort("2026-10"), "Oct 2026"},
		{en.T("line.title", "L1"), "Line L1"},
		{zh.T("line.title", "L1"), "产线 L1"},
		{en.T("no.such.key"), "!no.such.key!"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// The page says a master data problem in its reader's language: each
// problem code's text is the hub's English message in the English
// catalogue, and every language's text has the same arguments.
func TestMasterDataProblemsTranslated(t *testing.T) {
	cats, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	args := regexp.MustCompile(`\{[a-z_]+\}`)
	for code, msg := range masterdata.Messages() {
		key := "masterdata.problem." + code
		if got := cats["en"][key]; got != msg {
			t.Errorf("en %s: %q, the hub says %q", key, got, msg)
		}
		want := args.FindAllString(msg, -1)
		sort.Strings(want)
		for _, lang := range Languages {
			got := args.FindAllString(cats[lang][key], -1)
			sort.Strings(got)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("%s %s: arguments %v, want %v", lang, key, got, want)
			}
		}
	}
}
