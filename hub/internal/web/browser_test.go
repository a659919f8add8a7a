package web

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// screenshotsEnv names the folder screenshots are written to (default: a
// temporary folder of the test); e.g. testdata/screenshots, which git ignores.
const screenshotsEnv = "FLOORPULSE_SCREENSHOTS"

// tab is a browser tab of one person on the fixture's hub.
type tab struct {
	*testenv.Tab
	t *testing.T
	f *fixture
}

// browse starts a headless Chromium of its own (cookies apart) and logs
// user in through the login page. width and height size the viewport.
func browse(t *testing.T, f *fixture, user string, width, height int64, mobile bool) *tab {
	t.Helper()
	tb := &tab{Tab: testenv.NewTab(t, width, height, mobile), t: t, f: f}
	tb.Do(chromedp.Navigate(f.srv.URL+"/login"),
		chromedp.SendKeys(`input[name="name"]`, user),
		chromedp.SendKeys(`input[name="password"]`, password),
		chromedp.Submit(`input[name="password"]`),
		chromedp.WaitReady(`body[data-ready="yes"]`))
	return tb
}

// eval evaluates a JavaScript expression.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	return testenv.Eval[T](tb.Tab, expr)
}

// open loads a page and waits for its script (and its charts) to be done.
func (tb *tab) open(path string, charts bool) {
	tb.t.Helper()
	tb.Do(chromedp.Navigate(tb.f.srv.URL+path), chromedp.WaitReady(`body[data-ready="yes"]`))
	if charts {
		tb.Do(chromedp.WaitReady(`body[data-charts="drawn"]`))
	}
}

func screenshotDir(t *testing.T) string {
	dir := os.Getenv(screenshotsEnv)
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// keyPattern is a message key shown instead of its message.
var keyPattern = regexp.MustCompile(`![a-z_]+\.[a-zA-Z_.-]+!`)

// chartPages are the pages that draw charts.
var chartPages = map[string]bool{"overview": true, "line": true, "lineweek": true, "lineshift": true, "machine": true, "operators": true}

// Every page loads in both languages with no console error, its charts
// drawn; the Chinese pages show Chinese and no untranslated key, the English
// ones no Chinese; a screenshot of each is written.
func TestBrowserEveryPage(t *testing.T) {
	f := data(t)
	tb := browse(t, f, leaderUser, 1280, 900, false)
	dir := screenshotDir(t)
	for _, lang := range Languages {
		for name, path := range pagePaths(f) {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			tb.open(path+sep+"lang="+lang, chartPages[name])
			if name == "board" || name == "wall" {
				tb.Do(chromedp.WaitReady(`body[data-updates]`)) // the stream's first push
			}
			if errs := tb.Errors(); len(errs) > 0 {
				t.Errorf("%s (%s): console: %s", name, lang, strings.Join(errs, "\n"))
			}
			text := eval[string](tb, `document.querySelector('main').innerText`)
			if m := keyPattern.FindString(text); m != "" {
				t.Errorf("%s (%s): untranslated key %s", name, lang, m)
			}
			if got, want := han.MatchString(text), lang == "zh-CN"; got != want {
				t.Errorf("%s (%s): Chinese in the page: %v", name, lang, got)
			}
			if chartPages[name] {
				if n := eval[int](tb, `document.querySelectorAll('canvas').length`); n == 0 {
					t.Errorf("%s (%s): no chart drawn", name, lang)
				}
			}
			tb.Screenshot(filepath.Join(dir, name+"-"+lang+".png"))
		}
	}
	t.Logf("screenshots in %s", dir)
}

// The figures on the pages are the API's for the same month.
func TestBrowserFiguresEqualAPI(t *testing.T) {
	f := data(t)
	tb := browse(t, f, viewerUser, 1280, 900, false)
	c := f.client(t, viewerUser)
	l := locale{lang: "en", cat: sharedCats(t)["en"], loc: f.cfg.Location}
	var months struct{ Months []string }
	getJSON(t, c, f.srv.URL+"/api/v1/months", &months)
	month := months.Months[len(months.Months)-2] // a whole month
	var mj api.MonthJSON
	getJSON(t, c, f.srv.URL+"/api/v1/months/"+month, &mj)
	text := func(sel string) string {
		return strings.TrimSpace(eval[string](tb, fmt.Sprintf(`(document.querySelector(%q)||{innerText:'(missing)'}).innerText`, sel)))
	}
	check := func(what, got, want string) {
		if got != want {
			t.Errorf("%s: page %q, API %q", what, got, want)
		}
	}
	tb.open("/?lang=en&month="+month, true)
	check("site active rate", text(`[data-fig="site.active_rate"]`), l.Pct(mj.Site.ActiveRate))
	check("site run hours", text(`[data-fig="site.run_hours"]`), l.Hours(mj.Site.RunHours))
	check("site utilization", text(`[data-fig="site.utilization"]`), l.PctP(mj.Site.Utilization))
	check("site idle running", text(`[data-fig="site.idle_running"]`), l.Hours(mj.Site.IdleRunningHours))
	if mj.Site.IdleRunningHours == 0 {
		t.Error("no idle running in the API: the simulated history should have some")
	}
	for _, ln := range mj.Lines {
		row := `#lines tr[data-line="` + ln.Line + `"] `
		check(ln.Line+" active rate", text(row+`[data-fig="active_rate"]`), l.Pct(ln.ActiveRate))
		check(ln.Line+" run hours", text(row+`[data-fig="run_hours"]`), l.Hours(ln.RunHours))
		check(ln.Line+" utilization", text(row+`[data-fig="utilization"]`), l.PctP(ln.Utilization))
		check(ln.Line+" idle running", text(row+`[data-fig="idle_running"]`), l.Hours(ln.IdleRunningHours))
	}
	tb.open("/lines/L2?lang=en&month="+month, true)
	seen := 0
	for _, e := range mj.Equipment {
		if e.Line != "L2" {
			continue
		}
		seen++
		row := `#machines tr[data-equipment="` + e.Equipment + `"] `
		check("L2/"+e.Equipment+" run hours", text(row+`[data-fig="run_hours"]`), l.Hours(e.RunHours))
		check("L2/"+e.Equipment+" utilization", text(row+`[data-fig="utilization"]`), l.Pct(e.Utilization))
		check("L2/"+e.Equipment+" coverage", text(row+`[data-fig="coverage"]`), l.Pct(e.Coverage))
	}
	if seen == 0 {
		t.Fatal("no machine of L2 in the API")
	}
	for _, e := range mj.Equipment {
		if e.Line == "L1" && e.Equipment == "M02" {
			tb.open("/machines/L1/M02?lang=en&month="+month, true)
			check("L1/M02 run hours", text(`[data-fig="run_hours"]`), l.Hours(e.RunHours))
			check("L1/M02 utilization", text(`[data-fig="utilization"]`), l.Pct(e.Utilization))
			check("L1/M02 failures", text(`[data-fig="failures"]`), fmt.Sprint(e.Failures))
			check("L1/M02 tier", eval[string](tb, `document.querySelector('#tiers td[data-month="`+month+`"] .tier').className`), "tier "+e.Tier)
			if e.Failures > 0 {
				check("L1/M02 MTBF", text(`[data-fig="mtbf"]`), l.Hours(e.RunHours/float64(e.Failures))+" h")
			}
		}
	}
	var ops api.OperatorsJSON
	getJSON(t, c, f.srv.URL+"/api/v1/months/"+month+"/operators", &ops)
	tb.open("/operators?lang=en&month="+month, true)
	n := 0
	for _, o := range ops.Operators {
		if o.Scope != api.ScopeSite {
			continue
		}
		n++
		row := `#site-ops tr[data-operator="` + o.Operator + `"] `
		check(o.Operator+" run hours", text(row+`[data-fig="run_hours"]`), l.Hours(o.RunHours))
		check(o.Operator+" share", text(row+`[data-fig="share"]`), l.PctP(o.Share))
	}
	if n == 0 {
		t.Fatal("no operator in the API")
	}
	// Active months of the 12 to month, from the API month by month.
	active := map[string]int{}
	m, err := time.ParseInLocation("2006-01", month, f.cfg.Location)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		var mo api.OperatorsJSON
		getJSON(t, c, f.srv.URL+"/api/v1/months/"+m.AddDate(0, -i, 0).Format("2006-01")+"/operators", &mo)
		for _, o := range mo.Operators {
			if o.Scope == api.ScopeSite && o.Active != nil && *o.Active {
				active[o.Operator]++
			}
		}
	}
	for _, o := range ops.Operators {
		if o.Scope == api.ScopeSite {
			check(o.Operator+" active months", text(`#site-ops tr[data-operator="`+o.Operator+`"] [data-fig="active_months"]`), fmt.Sprintf("%d / 12", active[o.Operator]))
		}
	}
	if errs := tb.Errors(); len(errs) > 0 {
		t.Errorf("console: %s", strings.Join(errs, "\n"))
	}
}
