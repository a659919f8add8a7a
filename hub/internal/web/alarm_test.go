package web

import (
	"html"
	"strconv"
	"strings"
	"testing"

	"github.com/floorpulse/floorpulse/hub/internal/api"
)

// The machine and line pages show the month's down time by alarm code as
// the API computes it: every bucket, in Pareto order, with its hours and
// stops, and the chart's box.
func TestAlarmParetoPages(t *testing.T) {
	f := data(t)
	c := f.client(t, viewerUser)
	var months struct{ Months []string }
	getJSON(t, c, f.srv.URL+"/api/v1/months", &months)
	month := months.Months[len(months.Months)-2] // a whole month
	var mj api.MonthJSON
	getJSON(t, c, f.srv.URL+"/api/v1/months/"+month, &mj)
	l := locale{lang: "en", cat: sharedCats(t)["en"], loc: f.cfg.Location}
	check := func(name, path string, ds []api.AlarmDownJSON) {
		t.Helper()
		codes := 0
		for _, d := range ds {
			if d.Code != "" && d.Code != "?" {
				codes++
			}
		}
		if codes == 0 {
			t.Fatalf("%s: no alarm codes in the API's figures: %+v", name, ds)
		}
		_, body := get(t, c, f.srv.URL+path+"?month="+month, "en")
		if !strings.Contains(body, `id="alarm-pareto"`) {
			t.Errorf("%s: no Pareto chart", name)
		}
		last := -1
		for _, d := range ds {
			row := `<tr data-alarm="` + d.Code + `"><td>` + html.EscapeString(alarmLabel(l, d.Code)) + `</td><td data-fig="down_hours">` +
				l.Hours(d.Seconds/3600) + `</td><td data-fig="stops">` + strconv.Itoa(d.Stops) + `</td></tr>`
			i := strings.Index(body, row)
			if i < 0 {
				t.Errorf("%s lacks %s", name, row)
				continue
			}
			if i < last {
				t.Errorf("%s: %q out of Pareto order", name, d.Code)
			}
			last = i
		}
	}
	for _, e := range mj.Equipment {
		if e.Line == "L2" && e.Equipment == "M01" {
			check("machine L2/M01", "/machines/L2/M01", e.DownByAlarm)
		}
	}
	for _, lj := range mj.Lines {
		if lj.Line == "L2" {
			check("line L2", "/lines/L2", lj.DownByAlarm)
		}
	}
}
