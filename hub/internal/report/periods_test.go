package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// fixtureBadDays are five bad days of L1 in the fixture's October, each
// with its main loss; the other days' OEE is 0.6 + day/100, none on the 31st.
var fixtureBadDays = map[int]struct {
	oee  float64
	main string
}{13: {0.22, api.LossPerformance}, 28: {0.28, api.LossAvailability}, 7: {0.31, api.LossAvailability},
	21: {0.35, api.LossQuality}, 3: {0.40, api.LossPerformance}}

// fixturePeriod is a period of pbt planned busy hours with OEE oee: the
// rest lost, 60 % to the main loss and 20 % to each other.
func fixturePeriod(name, shift string, start time.Time, hours, pbt, oee float64, main string) api.PeriodJSON {
	lost := pbt * (1 - oee)
	l := &api.LossJSON{Availability: lost * 0.2, Performance: lost * 0.2, Quality: lost * 0.2, Productive: pbt * oee}
	switch main {
	case api.LossAvailability:
		l.Availability = lost * 0.6
	case api.LossPerformance:
		l.Performance = lost * 0.6
	case api.LossQuality:
		l.Quality = lost * 0.6
	}
	a, p, q := 1-l.Availability/pbt, (l.Productive+l.Quality)/(pbt-l.Availability), l.Productive/(l.Productive+l.Quality)
	o := &api.OEEJSON{Good: 1000 * oee, Availability: &a, Performance: &p, Quality: &q, OEE: &oee, LossHours: l}
	return api.PeriodJSON{Period: name, Shift: shift, Start: start, End: start.Add(time.Duration(hours * float64(time.Hour))),
		CalendarHours: hours, OEE: o, MainLoss: api.MainLoss(o)}
}

// Breakdown gives L1 a day and an early and a late shift on every day of
// the report's month (the late one 0.05 below the day, the early one 0.05
// above; the 5th's late shift a short one of half an hour at 5 %), and L2
// days without OEE and no shifts.
func (f fixture) Breakdown(month, kind, line string) (api.BreakdownJSON, error) {
	m, err := activity.ParseMonth(month, f.loc)
	if err != nil || month != "2026-10" {
		return api.BreakdownJSON{}, fmt.Errorf("month %q: not the fixture's", month)
	}
	b := api.BreakdownJSON{Kind: kind, Of: month, From: m.Start, To: m.End, Scope: api.ScopeLine, Site: "plant1", Line: line, Periods: []api.PeriodJSON{}}
	for d := 1; d <= 31; d++ {
		day := time.Date(2026, 10, d, 0, 0, 0, 0, f.loc)
		oee, main := 0.6+float64(d)/100, api.LossAvailability
		if bad, ok := fixtureBadDays[d]; ok {
			oee, main = bad.oee, bad.main
		}
		name := day.Format("2006-01-02")
		switch {
		case line == "L2" && kind == activity.Day:
			b.Periods = append(b.Periods, api.PeriodJSON{Period: name, Start: day, End: day.AddDate(0, 0, 1), CalendarHours: 24})
		case line != "L1" || kind == activity.Shift && d == 31:
		case kind == activity.Day && d == 31:
			b.Periods = append(b.Periods, api.PeriodJSON{Period: name, Start: day, End: day.AddDate(0, 0, 1), CalendarHours: 24, OEE: &api.OEEJSON{}})
		case kind == activity.Day:
			b.Periods = append(b.Periods, fixturePeriod(name, "", day, 24, 20, oee, main))
		default:
			b.Periods = append(b.Periods, fixturePeriod(name+" early", "early", day.Add(6*time.Hour), 8, 10, oee+0.05, main))
			late := fixturePeriod(name+" late", "late", day.Add(14*time.Hour), 8, 10, oee-0.05, main)
			if d == 5 {
				late = fixturePeriod(name+" late", "late", day.Add(14*time.Hour), 8, 0.5, 0.05, api.LossAvailability)
			}
			b.Periods = append(b.Periods, late)
		}
	}
	return b, nil
}

// The OEE by day section: one line per line with OEE in the chart, the
// five worst days and shifts of at least an hour's planned busy time,
// lowest OEE first, each with its main loss and its hours, in both
// languages.
func TestHTMLOEEByDay(t *testing.T) {
	d := fixtureData(t)
	if len(d.Days) != 2 || len(d.Shifts) != 2 || d.Days[0].Line != "L1" {
		t.Fatalf("breakdowns of %d lines", len(d.Days))
	}
	render := func(lang string) string {
		var b bytes.Buffer
		if err := HTML(&b, d, lang); err != nil {
			t.Fatal(err)
		}
		s := b.String()
		i := strings.Index(s, `<section><h2>`+catalog(lang).T("oee_days.title"))
		if i < 0 {
			t.Fatalf("%s: no OEE by day section", lang)
		}
		return s[i : i+strings.Index(s[i:], "</section>")]
	}
	en := render("en")
	chart := en[:strings.Index(en, "</svg>")]
	if n := strings.Count(chart, "<polyline"); n != 1 {
		t.Errorf("the chart has %d lines, want 1 (L2 has no OEE)", n)
	}
	if n := strings.Count(chart, "<circle"); n != 30 {
		t.Errorf("the chart has %d points, want 30 (none on the 31st)", n)
	}
	worstDays := en[strings.Index(en, "Worst days"):strings.Index(en, "Worst shifts")]
	// 20 h planned, 22 % of it productive (4.4 h): 15.6 h lost, 60 % of it
	// (9.36 h) to performance, 3.12 h each to availability and quality, so
	// availability 16.88/20, performance 7.52/16.88, quality 4.4/7.52.
	for i, want := range []string{
		`<td class="l">2026-10-13</td><td>22.0%</td><td>84.4%</td><td>44.5%</td><td>58.5%</td><td class="l">Performance</td><td>9.4</td><td>20.0</td>`,
		`<td class="l">2026-10-28</td><td>28.0%</td>`, `<td class="l">2026-10-07</td><td>31.0%</td>`,
		`<td class="l">2026-10-21</td><td>35.0%</td>`, `<td class="l">2026-10-03</td><td>40.0%</td>`,
	} {
		at := strings.Index(worstDays, want)
		if at < 0 {
			t.Errorf("worst day %d: %q not in %s", i+1, want, worstDays)
			continue
		}
		if n := strings.Count(worstDays[:at], "<tr><td") - 1; n != i {
			t.Errorf("%q is row %d of the worst days, want %d", want, n+1, i+1)
		}
	}
	if n := strings.Count(worstDays, "<tr><td"); n != worstN {
		t.Errorf("%d worst days, want %d", n, worstN)
	}
	worstShifts := en[strings.Index(en, "Worst shifts"):]
	for i, want := range []string{"2026-10-13 14:00 late</td><td>17.0%", "2026-10-28 14:00 late</td><td>23.0%",
		"2026-10-07 14:00 late</td><td>26.0%", "2026-10-13 06:00 early</td><td>27.0%", "2026-10-21 14:00 late</td><td>30.0%"} {
		at := strings.Index(worstShifts, want)
		if at < 0 {
			t.Errorf("worst shift %d: %q not in %s", i+1, want, worstShifts)
			continue
		}
		if n := strings.Count(worstShifts[:at], "<tr><td") - 1; n != i {
			t.Errorf("%q is row %d of the worst shifts, want %d", want, n+1, i+1)
		}
	}
	if strings.Contains(worstShifts, "2026-10-05 14:00") {
		t.Error("the half-hour shift of the 5th is listed among the worst")
	}
	if !strings.Contains(worstShifts, `<td class="l">Quality</td>`) || !strings.Contains(worstDays, `<td class="l">Availability</td>`) {
		t.Error("main losses not named")
	}
	zh := render("zh-CN")
	for _, want := range []string{"按日与按班次的 OEE", "最差的日期", "最差的班次", `<td class="l">性能</td>`, "各产线每日 OEE"} {
		if !strings.Contains(zh, want) {
			t.Errorf("zh-CN section lacks %q", want)
		}
	}
}

// A source without breakdowns makes a report without the section.
func TestHTMLWithoutBreakdowns(t *testing.T) {
	d := fixtureData(t)
	d.Days, d.Shifts = nil, nil
	var b bytes.Buffer
	if err := HTML(&b, d, "en"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "OEE by day and shift") {
		t.Error("the section is shown without breakdowns")
	}
}

// From the engine, the report's days are the API's: a machine that ran
// two hours making 60 parts of a minute has 50 % that day, its main loss
// the performance loss of one hour.
func TestEngineSourceBreakdown(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	k := signal.Key{Site: "s", Line: "L1", Equipment: "M1"}
	eng := engine.New(engine.Options{Location: loc, Threshold: func(string) time.Duration { return time.Hour },
		Registry: []activity.Equipment{{Key: k, IdealCycle: time.Minute}}}, nil)
	at := func(h int) time.Time { return time.Date(2026, 10, 25, h, 0, 0, 0, loc) }
	sig := func(name string, v signal.Value, h int) signal.Signal {
		return signal.Signal{Site: "s", Line: "L1", Equipment: "M1", Name: name, Value: v, Time: at(h)}
	}
	eng.Apply([]signal.Signal{sig(signal.Run, signal.Bool(true), 8), sig(signal.Count, signal.Number(0), 8),
		sig(signal.Count, signal.Number(60), 9), sig(signal.Run, signal.Bool(false), 10)})
	d, err := Build(EngineSource{Engine: eng, Location: loc, Site: "s"}, "2026-10", loc)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Days) != 1 || len(d.Days[0].Periods) != 31 || d.Days[0].Periods[24].Period != "2026-10-25" || d.Days[0].Periods[24].CalendarHours != 25 {
		t.Fatalf("days %+v", d.Days)
	}
	if o := d.Days[0].Periods[24].OEE; o == nil || o.OEE == nil || *o.OEE != 0.5 || d.Days[0].Periods[24].MainLoss != api.LossPerformance {
		t.Fatalf("Oct 25: %+v", d.Days[0].Periods[24])
	}
	var b bytes.Buffer
	if err := HTML(&b, d, "en"); err != nil {
		t.Fatal(err)
	}
	if want := `<td class="l">2026-10-25</td><td>50.0%</td><td>100.0%</td><td>50.0%</td><td>100.0%</td><td class="l">Performance</td><td>1.0</td><td>2.0</td>`; !strings.Contains(b.String(), want) {
		t.Errorf("the report lacks %s", want)
	}
}
