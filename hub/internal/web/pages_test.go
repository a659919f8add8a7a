package web

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// sharedFixture is built once for the tests of the package that need data.
var (
	sharedFixture *fixture
)

func data(t *testing.T) *fixture {
	t.Helper()
	if sharedFixture == nil {
		start := time.Now()
		sharedFixture = newFixture(&keepAlive{T: t}, testenv.Root(t))
		t.Logf("fixture built in %v", time.Since(start).Round(time.Millisecond))
	}
	return sharedFixture
}

// get fetches path with the client, in a language.
func get(t *testing.T, c *http.Client, u, lang string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Accept", "text/html")
	if lang != "" {
		req.Header.Set("Accept-Language", lang)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// pagePaths are a path of every page of the fixture's plant.
func pagePaths(f *fixture) map[string]string {
	return map[string]string{
		"overview":  "/",
		"line":      "/lines/L2",
		"lineweek":  "/lines/L2?span=week",
		"lineshift": "/lines/L2?span=early",
		"machine":   "/machines/L2/M01",
		"operators": "/operators",
		"events":    "/events",
		"actions":   "/actions?new=machine&line=L2&equipment=M01",
		"board":     "/lines/L4/live",
		"wall":      "/wall",
	}
}

var han = regexp.MustCompile(`\p{Han}`)

// Every page answers with the strict policy, in either language, with no
// untranslated key; a Chinese browser gets Chinese.
func TestPagesServeWithPolicyInBothLanguages(t *testing.T) {
	f := data(t)
	c := f.client(t, viewerUser)
	for name, path := range pagePaths(f) {
		for _, lang := range []string{"en-US,en;q=0.9", "zh-CN,zh;q=0.9"} {
			resp, body := get(t, c, f.srv.URL+path, lang)
			if resp.StatusCode != 200 {
				t.Fatalf("%s (%s): %s %s", name, lang, resp.Status, body)
			}
			if got := resp.Header.Get("Content-Security-Policy"); got != Policy {
				t.Errorf("%s: policy %q", name, got)
			}
			for _, bad := range []string{"'unsafe-inline'", "'unsafe-eval'", "http://", "https://"} {
				if strings.Contains(resp.Header.Get("Content-Security-Policy"), bad) {
					t.Errorf("%s: policy allows %s", name, bad)
				}
			}
			if strings.Contains(body, "<style") || regexp.MustCompile(`(?i)<script>|\sstyle=|\son[a-z]+=`).MatchString(body) {
				t.Errorf("%s: inline style, script or handler in the page", name)
			}
			if m := regexp.MustCompile(`![a-z_]+\.[a-z_.-]+!`).FindString(body); m != "" {
				t.Errorf("%s (%s): untranslated key %s", name, lang, m)
			}
			zh := strings.HasPrefix(lang, "zh")
			if got := han.MatchString(stripLangLinks(body)); got != zh {
				t.Errorf("%s (%s): Chinese characters present: %v", name, lang, got)
			}
		}
	}
}

// stripLangLinks drops the language switch, which names 中文 in every
// language, and the page's data (its script's catalogue has that name too).
func stripLangLinks(body string) string {
	body = regexp.MustCompile(`(?s)<script type="application/json".*?</script>`).ReplaceAllString(body, "")
	return regexp.MustCompile(`(?s)<(a|b) class="lang"[^>]*>.*?</(a|b)>`).ReplaceAllString(body, "")
}

// ?lang= switches the language and is remembered.
func TestLanguageSwitchIsRemembered(t *testing.T) {
	f := data(t)
	c := f.client(t, viewerUser)
	_, body := get(t, c, f.srv.URL+"/operators?lang=zh-CN", "en")
	if !han.MatchString(stripLangLinks(body)) {
		t.Fatal("?lang=zh-CN did not give Chinese")
	}
	_, body = get(t, c, f.srv.URL+"/operators", "en")
	if !han.MatchString(stripLangLinks(body)) {
		t.Fatal("the chosen language was not remembered")
	}
	_, body = get(t, c, f.srv.URL+"/operators?lang=en", "zh-CN")
	if han.MatchString(stripLangLinks(body)) {
		t.Fatal("?lang=en did not give English")
	}
}

// The month picker shows the month asked for, and offers every month the API has.
func TestMonthPicker(t *testing.T) {
	f := data(t)
	c := f.client(t, viewerUser)
	var months struct{ Months []string }
	getJSON(t, c, f.srv.URL+"/api/v1/months", &months)
	if len(months.Months) < 12 {
		t.Fatalf("months %v", months.Months)
	}
	_, body := get(t, c, f.srv.URL+"/", "en")
	for _, m := range months.Months {
		if !strings.Contains(body, `<option value="`+m+`"`) {
			t.Errorf("the picker lacks %s", m)
		}
	}
	pick := months.Months[2]
	_, body = get(t, c, f.srv.URL+"/?month="+pick, "en")
	if !strings.Contains(body, `<option value="`+pick+`" selected>`) {
		t.Fatalf("month %s not selected", pick)
	}
	var mj api.MonthJSON
	getJSON(t, c, f.srv.URL+"/api/v1/months/"+pick, &mj)
	l := locale{lang: "en", cat: sharedCats(t)["en"], loc: f.cfg.Location}
	if want := `data-fig="site.run_hours">` + l.Hours(mj.Site.RunHours) + `<`; !strings.Contains(body, want) {
		t.Fatalf("the page of %s does not show the site's run hours %s", pick, want)
	}
}

func getJSON(t *testing.T, c *http.Client, u string, v any) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s", u, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func sharedCats(t *testing.T) map[string]Catalog {
	c, err := loadCatalogs()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The history API gives a machine's day as intervals that tile it.
func TestHistoryAPI(t *testing.T) {
	f := data(t)
	c := f.client(t, viewerUser)
	day := f.now.In(f.cfg.Location).AddDate(0, 0, -3).Format("2006-01-02")
	var h HistoryJSON
	getJSON(t, c, f.srv.URL+"/api/v1/equipment/L1/M01/history?"+url.Values{"from": {day}, "to": {day}}.Encode(), &h)
	if len(h.States) < 3 || len(h.Sessions) == 0 {
		t.Fatalf("history %+v", h)
	}
	if !h.States[0].Start.Equal(h.From) || !h.States[len(h.States)-1].End.Equal(h.To) {
		t.Fatalf("history does not cover the day: %v..%v vs %v..%v", h.States[0].Start, h.States[len(h.States)-1].End, h.From, h.To)
	}
	for i := 1; i < len(h.States); i++ {
		if !h.States[i].Start.Equal(h.States[i-1].End) {
			t.Fatalf("gap at %d", i)
		}
	}
	today := f.now.In(f.cfg.Location).Format("2006-01-02")
	getJSON(t, c, f.srv.URL+"/api/v1/equipment/L1/M01/history?"+url.Values{"from": {today}, "to": {today}}.Encode(), &h)
	for _, s := range h.Sessions {
		if s.End.After(time.Now()) {
			t.Fatalf("a session ends in the future: %+v", s)
		}
	}
	resp, _ := get(t, c, f.srv.URL+"/api/v1/equipment/L1/M01/history?from=2026-01-01&to=2026-06-01", "")
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("a range too long: %s", resp.Status)
	}
}

// keepAlive lets the shared fixture outlive the test that built it: its
// cleanups and temporary directories are TestMain's.
type keepAlive struct{ *testing.T }

func (k *keepAlive) Cleanup(f func()) { mainCleanups = append(mainCleanups, f) }

func (k *keepAlive) TempDir() string {
	dir, err := os.MkdirTemp(mainTemp, "")
	if err != nil {
		k.Fatal(err)
	}
	return dir
}

var (
	mainTemp     string
	mainCleanups []func()
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "floorpulse-web-")
	if err != nil {
		panic(err)
	}
	mainTemp = dir
	code := m.Run()
	for i := len(mainCleanups) - 1; i >= 0; i-- {
		mainCleanups[i]()
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// A line's timeline covers the day, one of the line's shifts that day, or
// the week to that day.
func TestLineTimelineSpans(t *testing.T) {
	f := data(t)
	c := f.client(t, viewerUser)
	loc := f.cfg.Location
	pm := time.Date(f.now.In(loc).Year(), f.now.In(loc).Month()-1, 10, 0, 0, 0, 0, loc)
	for pm.Weekday() == time.Saturday || pm.Weekday() == time.Sunday {
		pm = pm.AddDate(0, 0, 1)
	}
	day := pm.Format("2006-01-02")
	span := func(q string) (from, to time.Time, body string) {
		t.Helper()
		_, body = get(t, c, f.srv.URL+"/lines/L2?month="+pm.Format("2006-01")+"&day="+day+q, "en")
		m := regexp.MustCompile(`(?s)<script type="application/json" id="page-data">(.*?)</script>`).FindStringSubmatch(body)
		if m == nil {
			t.Fatal("no page data")
		}
		var d struct{ From, To time.Time }
		if err := json.Unmarshal([]byte(m[1]), &d); err != nil {
			t.Fatal(err)
		}
		return d.From, d.To, body
	}
	from, to, _ := span("")
	if !from.Equal(pm) || !to.Equal(pm.AddDate(0, 0, 1)) {
		t.Errorf("day: %v to %v", from, to)
	}
	from, to, body := span("&span=late")
	if !from.Equal(pm.Add(14*time.Hour)) || !to.Equal(pm.Add(22*time.Hour)) || !strings.Contains(body, `<option value="late" selected>`) {
		t.Errorf("late shift: %v to %v", from, to)
	}
	from, to, _ = span("&span=week")
	if !from.Equal(pm.AddDate(0, 0, -6)) || !to.Equal(pm.AddDate(0, 0, 1)) {
		t.Errorf("week: %v to %v", from, to)
	}
}

// The assets are served to anyone, cached, as their types; the pages and
// their JSON only to people logged in.
func TestAssetsOpenPagesGuarded(t *testing.T) {
	f := data(t)
	anon := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for name, ct := range map[string]string{"app.js": "text/javascript", "echarts.min.js": "text/javascript", "app.css": "text/css", "favicon.svg": "image/svg+xml"} {
		resp, body := get(t, anon, f.srv.URL+"/static/"+name+"?v=x", "")
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ct) || len(body) == 0 ||
			!strings.Contains(resp.Header.Get("Cache-Control"), "max-age") {
			t.Errorf("%s: %s %q %q", name, resp.Status, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
		}
	}
	for _, path := range []string{"/", "/lines/L1", "/wall", "/events"} {
		if resp, _ := get(t, anon, f.srv.URL+path, ""); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Errorf("%s without a login: %s", path, resp.Status)
		}
	}
	for _, path := range []string{"/api/v1/trend", "/api/v1/lines/L1/stream", "/api/v1/equipment/L1/M01/history?from=2026-01-01&to=2026-01-01"} {
		req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
		resp, err := anon.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without credentials: %s", path, resp.Status)
		}
	}
}
