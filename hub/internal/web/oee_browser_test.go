package web

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/floorpulse/floorpulse/hub/internal/api"
)

// The OEE and energy blocks of the overview, a line and a machine show the
// API's figures, in both languages, with the loss waterfall drawn and the
// wasted energy marked, and no console error (the pages' CSP holds).
func TestBrowserOEEAndEnergy(t *testing.T) {
	f := data(t)
	tb := browse(t, f, viewerUser, 1280, 900, false)
	c := f.client(t, viewerUser)
	var months struct{ Months []string }
	getJSON(t, c, f.srv.URL+"/api/v1/months", &months)
	month := months.Months[len(months.Months)-2] // a whole month
	var mj api.MonthJSON
	getJSON(t, c, f.srv.URL+"/api/v1/months/"+month, &mj)
	var line api.LineJSON
	for _, l := range mj.Lines {
		if l.Line == "L1" {
			line = l
		}
	}
	var eq api.EquipmentJSON
	for _, e := range mj.Equipment {
		if e.Line == "L1" && e.Equipment == "M01" {
			eq = e
		}
	}
	if mj.Site.OEE == nil || mj.Site.OEE.OEE == nil || line.OEE == nil || eq.OEE == nil || eq.Energy == nil || eq.Energy.WasteKWh <= 0 {
		t.Fatalf("the fixture's month has no OEE or energy: site %+v line %+v machine %+v %+v", mj.Site.OEE, line.OEE, eq.OEE, eq.Energy)
	}
	text := func(sel string) string {
		return strings.TrimSpace(eval[string](tb, fmt.Sprintf(`(document.querySelector(%q)||{innerText:'(missing)'}).innerText`, sel)))
	}
	for _, lang := range Languages {
		l := locale{lang: lang, cat: sharedCats(t)[lang], loc: f.cfg.Location}
		for _, pg := range []struct {
			path string
			oee  *api.OEEJSON
			en   *api.EnergyJSON
		}{
			{"/?month=" + month, mj.Site.OEE, mj.Site.Energy},
			{"/lines/L1?month=" + month, line.OEE, line.Energy},
			{"/machines/L1/M01?month=" + month, eq.OEE, eq.Energy},
		} {
			tb.open(pg.path+"&lang="+lang, true)
			tb.Do(chromedp.WaitReady(`body[data-oee="drawn"]`))
			name := pg.path + " " + lang
			for sel, want := range map[string]string{
				`#oee-block [data-fig="oee"]`:              l.PctP(pg.oee.OEE),
				`#oee-block [data-fig="performance"]`:      l.PctP(pg.oee.Performance),
				`#oee-block [data-fig="quality"]`:          l.PctP(pg.oee.Quality),
				`#oee-losses [data-loss="availability"]`:   l.Hours(pg.oee.LossHours.Availability),
				`#oee-losses [data-loss="productive"]`:     l.Hours(pg.oee.LossHours.Productive),
				`#oee-block [data-fig="energy_kwh"]`:       l.Num(pg.en.KWh, 1),
				`#oee-block [data-fig="energy_waste_kwh"]`: l.Num(pg.en.WasteKWh, 1),
			} {
				if got := text(sel); got != want {
					t.Errorf("%s %s: page %q, API %q", name, sel, got, want)
				}
			}
			if n := eval[int](tb, `document.querySelectorAll('#energy-states td.waste').length`); n != 3 {
				t.Errorf("%s: %d energy cells marked as waste, want 3 (idle, planned stop, no shift)", name, n)
			}
			if n := eval[int](tb, `document.querySelectorAll('#oee-waterfall canvas').length`); n == 0 {
				t.Errorf("%s: no waterfall drawn", name)
			}
			if errs := tb.Errors(); len(errs) > 0 {
				t.Errorf("%s: console: %s", name, strings.Join(errs, "\n"))
			}
			if m := keyPattern.FindString(text("main")); m != "" {
				t.Errorf("%s: untranslated key %s", name, m)
			}
		}
	}
	// The 12-month trends carry OEE: the site's on the overview, the
	// machine's on its page, the report's month last.
	for path, want := range map[string]*float64{"/?lang=en&month=" + month: mj.Site.OEE.OEE, "/machines/L1/M01?lang=en&month=" + month: eq.OEE.OEE} {
		tb.open(path, true)
		got := eval[float64](tb, `(function () {
			var c = echarts.getInstanceByDom(document.getElementById('trend-chart'));
			var s = c.getOption().series.filter(function (s) { return s.name === 'OEE'; })[0];
			return s ? s.data[s.data.length - 1] : -1; })()`)
		if w := *want * 100; math.Abs(got-w) > 0.05+1e-9 { // drawn to one decimal
			t.Errorf("%s: the trend's OEE this month is %v, want %.3f", path, got, w)
		}
	}
	// The rows: every line on the overview, every machine of L1 on its page.
	tb.open("/lines/L1?lang=en&month="+month, true)
	if n := eval[int](tb, `document.querySelectorAll('#oee-rows tbody tr').length`); n != len(f.cfg.Registry[0].IDs) {
		t.Errorf("L1's OEE table has %d rows, want %d", n, len(f.cfg.Registry[0].IDs))
	}
}
