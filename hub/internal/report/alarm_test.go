package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/floorpulse/floorpulse/hub/internal/api"
)

// With alarm codes, the downtime Pareto ranks the site's down time by code
// (largest first, in both languages); without, by machine.
func TestParetoByAlarmCode(t *testing.T) {
	d := fixtureData(t)
	d.Site.DownByAlarm = []api.AlarmDownJSON{{Code: "", Seconds: 20 * 3600, Stops: 3}, {Code: "E42", Seconds: 30 * 3600, Stops: 2}, {Code: "?", Seconds: 5 * 3600}}
	render := func(lang string) string {
		var b bytes.Buffer
		if err := HTML(&b, d, lang); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	en, zh := render("en"), render("zh-CN")
	for _, want := range []string{"Downtime Pareto by alarm code", ">E42</text>", ">no alarm</text>", ">unknown alarm</text>", "E42: 30.0 h"} {
		if !strings.Contains(en, want) {
			t.Errorf("en report lacks %q", want)
		}
	}
	if i, j, k := strings.Index(en, ">E42</text>"), strings.Index(en, ">no alarm</text>"), strings.Index(en, ">unknown alarm</text>"); !(i < j && j < k) {
		t.Errorf("pareto order: %d %d %d", i, j, k)
	}
	pareto := en[strings.Index(en, "Downtime Pareto by alarm code"):]
	pareto = pareto[:strings.Index(pareto, "</section>")] // other sections chart machines too
	if strings.Contains(pareto, ">L1/M2</text>") {
		t.Error("by-code Pareto still shows machines")
	}
	for _, want := range []string{"按报警代码", ">无报警</text>", ">E42</text>"} {
		if !strings.Contains(zh, want) {
			t.Errorf("zh-CN report lacks %q", want)
		}
	}
	// Only no alarm and unknown: by machine.
	d.Site.DownByAlarm = []api.AlarmDownJSON{{Code: "", Seconds: 3600}, {Code: "?", Seconds: 60}}
	if en := render("en"); !strings.Contains(en, "Downtime Pareto by machine") || !strings.Contains(en, ">L1/M2</text>") {
		t.Error("without codes the Pareto is not by machine")
	}
}
