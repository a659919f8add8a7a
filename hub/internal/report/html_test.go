package report

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/api"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// fixture is a fixed set of figures: a site of two lines, five machines
// and one unregistered, twelve months, two operators and three events.
type fixture struct{ loc *time.Location }

func pf(v float64) *float64 { return &v }

func (f fixture) Month(month string) (api.MonthJSON, error) {
	var n int
	fmt.Sscanf(month, "2026-%d", &n)
	if strings.HasPrefix(month, "2025-") {
		fmt.Sscanf(month, "2025-%d", &n)
		n -= 12
	}
	// n: 10 for the report's month, down to -1 eleven months before.
	eq := func(line, id string, run, down float64, reg bool) api.EquipmentJSON {
		e := api.EquipmentJSON{Site: "plant1", Line: line, Equipment: id, Class: "cnc", Registered: reg, RunHours: run, Active: run >= 80,
			Utilization: run / 745, Coverage: 0.98, StateHours: map[string]float64{"running": run, "down": down, "idle": 745 - run - down}}
		if reg {
			e.Availability = pf(run / (run + down + 10))
		}
		if id == "M1" {
			e.IdleRunningHours = pf(3.5)
			e.OEE = &api.OEEJSON{IdealCycleSeconds: pf(60), Good: 15600, Scrap: 312, Availability: pf(310.5 / 332.75), Performance: pf(15912.0 / 60 / 310.5),
				Quality: pf(15600.0 / 15912), OEE: pf(15600.0 / 60 / 332.75), Throughput: pf(15600 / 310.5),
				LossHours: &api.LossJSON{Availability: 22.25, Performance: 310.5 - 265.2, Quality: 5.2, Productive: 260}}
			e.Energy = &api.EnergyJSON{KWh: 7420.5, WasteKWh: 610.25, PerPartKWh: pf(7420.5 / 15600), RatedPowerKW: pf(45),
				KWhByState: map[string]float64{"running": 6700, "idle": 610.25, "down": 110.25}}
		}
		if id == "M2" {
			e.Energy = &api.EnergyJSON{KWh: 1200, WasteKWh: 900, KWhByState: map[string]float64{"running": 300, "idle": 900}}
		}
		return e
	}
	m := api.MonthJSON{Month: month, Timezone: f.loc.String(), CalendarHours: 745}
	if n == 10 {
		m.Equipment = []api.EquipmentJSON{eq("L1", "M1", 310.5, 12.25, true), eq("L1", "M2", 95, 40, true), eq("L1", "M3", 12, 0, true),
			eq("L2", "P1", 150, 3.5, true), eq("L2", "P2", 0, 0, true), eq("L2", "X9", 20, 1, false)}
	}
	rate1, rate2 := float64(n%4+1)/4, float64((n+2)%3)/3
	m.Lines = []api.LineJSON{
		{Site: "plant1", Line: "L1", Registered: 3, Active: 2, ActiveRate: rate1, RunHours: 417.5, Utilization: pf(0.187), Availability: pf(0.82), Coverage: pf(0.98), Failures: 4, IdleRunningHours: 3.5},
		{Site: "plant1", Line: "L2", Registered: 2, Active: 1, ActiveRate: rate2, RunHours: 150, Utilization: pf(0.1), Coverage: pf(0.97), Failures: 1},
	}
	m.Site = api.LineJSON{Site: "plant1", Registered: 5, Active: 3, ActiveRate: 0.6, RunHours: 567.5, Utilization: pf(0.152), Availability: pf(0.8), Coverage: pf(0.975), Failures: 5, IdleRunningHours: 3.5}
	if n == 10 {
		m1 := m.Equipment[0]
		for _, g := range []*api.LineJSON{&m.Lines[0], &m.Site} {
			g.OEE = m1.OEE
			g.Energy = &api.EnergyJSON{KWh: 8620.5, WasteKWh: 1510.25, PerPartKWh: pf(8620.5 / 15600), KWhByState: map[string]float64{"running": 7000, "idle": 1510.25, "down": 110.25}}
		}
	}
	return m, nil
}

func (f fixture) Operators(string) ([]api.OperatorJSON, error) {
	return []api.OperatorJSON{
		{Scope: "site", Site: "plant1", Operator: "wang.li", RunHours: 300, Share: pf(300 / 567.5), Tier: "high"},
		{Scope: "site", Site: "plant1", Operator: "ann", RunHours: 120.25, Share: pf(120.25 / 567.5), Tier: "medium",
			AttritionRisk: func() *bool { b := true; return &b }(), AttritionReason: "run hours below 50% of own average for 2 months"},
		{Scope: "line", Site: "plant1", Line: "L1", Operator: "ann", RunHours: 120.25, Share: pf(120.25 / 417.5)},
	}, nil
}

func (f fixture) Events(from, to time.Time) ([]anomaly.Record, error) {
	at := func(d, h int) time.Time { return time.Date(2026, 10, d, h, 0, 0, 0, f.loc) }
	end := at(3, 9)
	before := time.Date(2026, 9, 2, 0, 0, 0, 0, f.loc)
	return []anomaly.Record{
		{Event: anomaly.Event{ID: "e1", Type: anomaly.UnplannedDowntime, Severity: anomaly.Critical, Site: "plant1", Line: "L1", Equipment: "M2", Start: at(3, 7), End: &end}, Status: anomaly.Resolved, Revision: 3},
		{Event: anomaly.Event{ID: "e1", Type: anomaly.UnplannedDowntime, Severity: anomaly.Critical, Site: "plant1", Line: "L1", Equipment: "M2", Start: at(3, 7)}, Status: anomaly.Opened, Revision: 1},
		{Event: anomaly.Event{ID: "e2", Type: anomaly.SignalLoss, Severity: anomaly.Warning, Site: "plant1", Line: "L2", Equipment: "P2", Start: at(20, 14)}, Status: anomaly.Acknowledged, Revision: 2},
		{Event: anomaly.Event{ID: "e0", Type: anomaly.IdleRunning, Severity: anomaly.Info, Site: "plant1", Line: "L1", Equipment: "M1", Start: before, End: &before}, Status: anomaly.Resolved, Revision: 2},
	}, nil
}

func fixtureData(t *testing.T) Data {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Build(fixture{loc}, "2026-10", loc)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The report of a fixed figure set, in each language, is the golden file
// (go test ./hub/internal/report -run TestHTMLGolden -update rewrites them).
func TestHTMLGolden(t *testing.T) {
	d := fixtureData(t)
	for _, lang := range Languages {
		t.Run(lang, func(t *testing.T) {
			var b bytes.Buffer
			if err := HTML(&b, d, lang); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "report."+lang+".html")
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("report differs from %s (run with -update and review the diff)", path)
			}
		})
	}
}

// What the monthly review needs is in the report, computed from the figures.
func TestHTMLContent(t *testing.T) {
	d := fixtureData(t)
	if len(d.Trend) != TrendMonths || d.Trend[0].Month != "2025-11" || d.Trend[11].Month != "2026-10" {
		t.Fatalf("trend months %v .. %v (%d)", d.Trend[0].Month, d.Trend[len(d.Trend)-1].Month, len(d.Trend))
	}
	if len(d.Events) != 2 || d.Events[0].ID != "e1" || d.Events[0].Status != anomaly.Resolved {
		t.Fatalf("events of the month: %+v", d.Events)
	}
	render := func(lang string) string {
		var b bytes.Buffer
		if err := HTML(&b, d, lang); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	en, zh := render("en"), render("zh-CN")
	for _, want := range []string{
		"Monthly activity report: October 2026",
		"3 of 5 registered machines active (active rate 60.0%), 567.5 run hours.",
		`<td class="l">L1</td><td>3</td><td>2</td>`,
		"2 events: 1 open, 1 closed.",
		"Unplanned downtime", "2026-10-03 07:00", "2026-10-03 09:00",
		"Best L1/M1", "Worst L2/P2", "310.5 h",
		">L1/M2</text>", "52.9%", // wang.li's share of the site's run hours
		"yes: run hours below 50% of own average", "M3", "X9 (not registered)",
		"By machine: no alarm codes were reported this month",
	} {
		if !strings.Contains(en, want) {
			t.Errorf("en report lacks %q", want)
		}
	}
	// Pareto order: M2 (40 h) before M1 (12.25 h) before P1 (3.5 h).
	if i, j, k := strings.Index(en, ">L1/M2</text>"), strings.Index(en, ">L1/M1</text>"), strings.Index(en, ">L2/P1</text>"); !(i < j && j < k) {
		t.Errorf("pareto order: M2 at %d, M1 at %d, P1 at %d", i, j, k)
	}
	// One polyline per line and one for the site in the trend chart.
	trend := en[strings.Index(en, "Active rate per line"):]
	trend = trend[:strings.Index(trend, "</svg>")]
	if n := strings.Count(trend, "<polyline"); n != 3 {
		t.Errorf("trend chart has %d lines, want 3", n)
	}
	for _, want := range []string{"月度设备运行报告：2026年10月", "5 台登记设备中 3 台为活跃设备", "非计划停机", "已解决", "帕累托", "全厂"} {
		if !strings.Contains(zh, want) {
			t.Errorf("zh-CN report lacks %q", want)
		}
	}
	for lang, page := range map[string]string{"en": en, "zh-CN": zh} {
		if strings.Contains(page, missing) || strings.Contains(page, "%!") {
			t.Errorf("%s report has an untranslated key or a bad format: %s", lang, regexp.MustCompile(`(!missing:\S+|%!\S+)`).FindString(page))
		}
		if strings.Contains(page, "<script") || strings.Contains(page, "http://") && !strings.Contains(page, `xmlns="http://www.w3.org/2000/svg"`) {
			t.Errorf("%s report is not self-contained", lang)
		}
	}
}
