package web

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/floorpulse/floorpulse/hub/internal/api"
)

// The month's OEE by day and by shift on the overview (the site), a line
// and a machine: the day chart's bars (fully productive hours, losses) and
// OEE line are the API's days, the shift table the API's shifts, in both
// languages; a click on a day in the chart shows that day's shifts and
// hours as the API has them.
func TestBrowserOEEByDayAndShift(t *testing.T) {
	f := data(t)
	tb := browse(t, f, viewerUser, 1280, 900, false)
	c := f.client(t, viewerUser)
	var months struct{ Months []string }
	getJSON(t, c, f.srv.URL+"/api/v1/months", &months)
	month := months.Months[len(months.Months)-2] // a whole month
	text := func(sel string) string {
		return strings.TrimSpace(eval[string](tb, fmt.Sprintf(`(document.querySelector(%q)||{innerText:'(missing)'}).innerText`, sel)))
	}
	for _, pg := range []struct {
		path, query string
		click       bool
	}{
		{"/", "", false},
		{"/lines/L1", "line=L1", true},
		{"/machines/L2/M01", "line=L2&equipment=M01", true},
	} {
		var days, shifts api.BreakdownJSON
		getJSON(t, c, f.srv.URL+"/api/v1/months/"+month+"/days?"+pg.query, &days)
		getJSON(t, c, f.srv.URL+"/api/v1/months/"+month+"/shifts?"+pg.query, &shifts)
		withOEE, withShiftOEE := 0, 0
		for _, d := range days.Periods {
			if d.OEE != nil && d.OEE.OEE != nil {
				withOEE++
			}
		}
		for _, s := range shifts.Periods {
			if s.OEE != nil && s.OEE.OEE != nil {
				withShiftOEE++
			}
		}
		if withOEE < 20 || withShiftOEE < 20 {
			t.Fatalf("%s: the fixture's month has OEE on %d days and %d shifts only", pg.path, withOEE, withShiftOEE)
		}
		for _, lang := range Languages {
			l := locale{lang: lang, cat: sharedCats(t)[lang], loc: f.cfg.Location}
			name := pg.path + " " + lang
			tb.open(pg.path+"?month="+month+"&lang="+lang, true)
			tb.Do(chromedp.WaitReady(`body[data-oee-days="drawn"]`))
			// The chart: series 0 the productive hours, 3 the availability
			// loss, 4 the OEE (percent), one point per day.
			series := eval[[][]*float64](tb, `echarts.getInstanceByDom(document.getElementById('oee-days')).getOption().series.map(function (s) { return s.data; })`)
			if len(series) != 5 || len(series[4]) != len(days.Periods) {
				t.Fatalf("%s: %d series, %d days drawn; the API has %d days", name, len(series), len(series[4]), len(days.Periods))
			}
			for i, d := range days.Periods {
				var oee, productive, avail *float64
				if d.OEE != nil && d.OEE.OEE != nil {
					v := *d.OEE.OEE * 100
					oee = &v
				}
				if d.OEE != nil && d.OEE.LossHours != nil {
					productive, avail = &d.OEE.LossHours.Productive, &d.OEE.LossHours.Availability
				}
				for _, s := range []struct {
					what      string
					got, want *float64
					tol       float64
				}{{"OEE", series[4][i], oee, 0.05}, {"productive hours", series[0][i], productive, 0.005}, {"availability loss", series[3][i], avail, 0.005}} {
					if (s.got == nil) != (s.want == nil) || s.got != nil && math.Abs(*s.got-*s.want) > s.tol+1e-9 {
						t.Errorf("%s %s: the chart's %s is %v, the API's %v", name, d.Period, s.what, derefp(s.got), derefp(s.want))
					}
				}
			}
			// The shift table: one cell per shift, its OEE as the API has it.
			if n := eval[int](tb, `document.querySelectorAll('#oee-shifts td[data-shift]').length`); n != len(shifts.Periods) {
				t.Errorf("%s: %d shift cells, the API has %d shifts", name, n, len(shifts.Periods))
			}
			for _, s := range shifts.Periods {
				if s.OEE == nil || s.OEE.OEE == nil {
					continue
				}
				sel := fmt.Sprintf(`#oee-shifts tr[data-day=%q] td[data-shift=%q] [data-fig="oee"]`, s.Start.In(f.cfg.Location).Format("2006-01-02"), s.Shift)
				if got, want := text(sel), l.PctP(s.OEE.OEE); got != want {
					t.Errorf("%s %s: the table's OEE %q, the API's %q", name, s.Period, got, want)
				}
			}
			// The month's row: each shift's productive hours over its planned
			// busy hours, summed over the month.
			productive, pbt := map[string]float64{}, map[string]float64{}
			for _, s := range shifts.Periods {
				if s.OEE != nil && s.OEE.LossHours != nil {
					l := s.OEE.LossHours
					productive[s.Shift] += l.Productive
					pbt[s.Shift] += l.Availability + l.Performance + l.Quality + l.Productive
				}
			}
			if len(pbt) == 0 {
				t.Errorf("%s: no shift with loss hours in the API", name)
			}
			for shift, h := range pbt {
				oee := productive[shift] / h
				if got, want := text(fmt.Sprintf(`#oee-shifts td[data-total=%q] [data-fig="oee"]`, shift)), l.PctP(&oee); got != want {
					t.Errorf("%s: shift %s over the month: %q, from the API's shifts %q", name, shift, got, want)
				}
			}
			if errs := tb.Errors(); len(errs) > 0 {
				t.Errorf("%s: console: %s", name, strings.Join(errs, "\n"))
			}
			if m := keyPattern.FindString(text("main")); m != "" {
				t.Errorf("%s: untranslated key %s", name, m)
			}
			if !pg.click {
				continue
			}
			// A click on the day with the lowest OEE, in the chart.
			worst := -1
			for i, d := range days.Periods {
				if d.OEE != nil && d.OEE.OEE != nil && (worst < 0 || *d.OEE.OEE < *days.Periods[worst].OEE.OEE) {
					worst = i
				}
			}
			day := days.Periods[worst].Period
			at := eval[[]float64](tb, fmt.Sprintf(`(function () {
				var box = document.getElementById('oee-days');
				box.scrollIntoView({ block: 'center' });
				var c = echarts.getInstanceByDom(box), r = box.getBoundingClientRect();
				var x = c.convertToPixel({ xAxisIndex: 0 }, %d), y = c.convertToPixel({ yAxisIndex: 0 }, 0);
				return [r.left + x, r.top + y - 3]; })()`, worst))
			tb.Do(chromedp.MouseClickXY(at[0], at[1]), chromedp.WaitReady(fmt.Sprintf(`body[data-oee-day=%q]`, day)))
			var hours, dayShifts api.BreakdownJSON
			getJSON(t, c, f.srv.URL+"/api/v1/days/"+day+"/hours?"+pg.query, &hours)
			getJSON(t, c, f.srv.URL+"/api/v1/days/"+day+"/shifts?"+pg.query, &dayShifts)
			for id, b := range map[string]api.BreakdownJSON{"oee-day-hours": hours, "oee-day-shifts": dayShifts} {
				if n := eval[int](tb, `document.querySelectorAll('#`+id+` tbody tr').length`); n != len(b.Periods) {
					t.Errorf("%s %s: %d rows in #%s, the API has %d", name, day, n, id, len(b.Periods))
				}
				for _, p := range b.Periods {
					row := fmt.Sprintf(`#%s tr[data-period=%q] `, id, p.Period)
					var want *float64
					good := "–"
					if p.OEE != nil {
						want, good = p.OEE.OEE, l.Num(p.OEE.Good, 0)
					}
					// Drawn by the script, which rounds a half up where Go
					// rounds the binary value: within the last digit.
					if got := text(row + `[data-fig="oee"]`); !samePct(got, want) {
						t.Errorf("%s %s %s: OEE %q, the API's %v", name, id, p.Period, got, derefp(want))
					}
					if got := text(row + `[data-fig="parts_good"]`); got != good {
						t.Errorf("%s %s %s: good parts %q, the API's %q", name, id, p.Period, got, good)
					}
				}
			}
			tb.Screenshot(filepath.Join(screenshotDir(t), "oee-days-"+strings.Trim(strings.ReplaceAll(pg.path, "/", "-"), "-")+"-"+lang+".png"))
			if len(hours.Periods) < 23 {
				t.Errorf("%s %s: %d hours", name, day, len(hours.Periods))
			}
			if errs := tb.Errors(); len(errs) > 0 {
				t.Errorf("%s after the click: console: %s", name, strings.Join(errs, "\n"))
			}
		}
	}
}

func derefp(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}

// samePct reports whether a percentage shown with one decimal ("26.3%",
// "–" for none) is the ratio want.
func samePct(shown string, want *float64) bool {
	if want == nil || shown == "–" {
		return want == nil && shown == "–"
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSuffix(shown, "%"), ",", ""), 64)
	return err == nil && math.Abs(v-*want*100) <= 0.05+1e-9
}
