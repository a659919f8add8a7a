package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/action"
	"github.com/floorpulse/floorpulse/hub/internal/api"
	"github.com/floorpulse/floorpulse/hub/internal/segment"
)

// segFixture is the fixed figure set with segments and actions.
type segFixture struct{ fixture }

func (f segFixture) Segments(month string) (api.SegmentsJSON, error) {
	as := []segment.Assignment{
		{Kind: segment.Equipment, Site: "plant1", Line: "L1", ID: "M1", Month: month, Segment: segment.Core, Scores: segment.Scores{Recency: 3, Frequency: 3, Volume: 3}},
		{Kind: segment.Equipment, Site: "plant1", Line: "L1", ID: "M2", Month: month, Segment: segment.AtRisk, Scores: segment.Scores{Recency: 1, Frequency: 2, Volume: 1},
			Reason: segment.Reason{Code: segment.ReasonAtRisk, Trend: segment.ReasonDeclining, Date: "2026-10-12", Days: 19, Months: 3, FromHours: 310, Hours: 95, Change: -0.694}},
		{Kind: segment.Equipment, Site: "plant1", Line: "L1", ID: "M3", Month: month, Segment: segment.Dormant},
		{Kind: segment.Operator, Site: "plant1", ID: "ann", Month: month, Segment: segment.Declining, Scores: segment.Scores{Recency: 3, Frequency: 2, Volume: 2},
			Reason: segment.Reason{Code: segment.ReasonBelowMean, Months: 4, FromHours: 180, Hours: 120.25, Change: -0.332}},
	}
	out := api.SegmentsJSON{Month: month, Transitions: []segment.Transition{
		{Kind: segment.Equipment, Site: "plant1", From: segment.Core, To: segment.Core, Count: 1},
		{Kind: segment.Equipment, Site: "plant1", From: segment.Declining, To: segment.AtRisk, Count: 1},
		{Kind: segment.Equipment, Site: "plant1", From: "", To: segment.Dormant, Count: 1},
		{Kind: segment.Equipment, Site: "plant1", Line: "L1", From: segment.Declining, To: segment.AtRisk, Count: 1},
		{Kind: segment.Operator, Site: "plant1", From: segment.Steady, To: segment.Declining, Count: 1},
	}}
	for _, a := range as {
		out.Assignments = append(out.Assignments, api.SegmentJSON{Assignment: a})
	}
	return out, nil
}

func (f segFixture) Actions(string) ([]action.JSON, error) {
	done := time.Date(2026, 10, 8, 16, 0, 0, 0, f.loc)
	av := func(v float64) *float64 { return &v }
	return []action.JSON{
		{Action: action.Action{ID: "A000007", What: "replace the spindle seal", Owner: "tom", Due: "2026-10-10", Status: action.Done, DoneAt: &done,
			Subject: action.Subject{Kind: action.SubjectEvent, Event: "e1", Site: "plant1", Line: "L1", Equipment: "M2"}},
			Effect: &action.Effect{WindowDays: 14, Complete: true,
				Before: action.Window{Days: 14, DownHoursPerDay: 4, RunHoursPerDay: 16, Availability: av(0.8), Failures: 14, Events: 3},
				After:  action.Window{Days: 14, DownHoursPerDay: 2, RunHoursPerDay: 18, Availability: av(0.9), Failures: 7, Events: 0},
				Delta:  &action.Delta{DownHoursPerDay: -2, RunHoursPerDay: 2}}},
		{Action: action.Action{ID: "A000008", What: "talk to ann", Owner: "lea", Due: "2026-11-05", Status: action.Open,
			Subject: action.Subject{Kind: action.SubjectSegment, Site: "plant1", Operator: "ann", Month: "2026-10", Segment: segment.Declining}}},
	}, nil
}

// The report lists the month's segments (counts, the moves from the month
// before, the declining and at-risk with their reasons in the report's
// language) and actions with their effects.
func TestHTMLSegmentsAndActions(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Build(segFixture{fixture{loc}}, "2026-10", loc)
	if err != nil {
		t.Fatal(err)
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
		"<h2>Segments</h2>", "<h3>Machines</h3>", "<h3>Operators</h3>",
		// counts core, steady, new, declining, at risk, dormant
		"<tr><td>1</td><td>0</td><td>0</td><td>0</td><td>1</td><td>1</td></tr>",
		// the declining row: one to at risk (the per-line count is not added to the site's)
		`<tr><td class="l">declining</td><td>·</td><td>·</td><td>·</td><td>·</td><td>1</td><td>·</td></tr>`,
		`<tr><td class="l">not scored</td><td>·</td><td>·</td><td>·</td><td>·</td><td>·</td><td>1</td></tr>`,
		"L1/M2", "R1 F2 V1",
		"19 days without activity (last active on 2026-10-12), and run hours fell 3 months running, from 310.0 h to 95.0 h (-69 %)",
		"run hours 120.2 h against a mean of 180.0 h over the 4 months before (-33 %)",
		"<h2>Actions of the month</h2>", "replace the spindle seal", "event L1/M2 (e1)", "done 2026-10-08",
		"down 4.0 → 2.0 h, availability 80.0% → 90.0%, run 16.0 → 18.0 h; failures 14 → 7, events 3 → 0",
		"talk to ann", "segment entry ann", "open",
	} {
		if !strings.Contains(en, want) {
			t.Errorf("en report lacks %q", want)
		}
	}
	for _, want := range []string{"<h2>分群</h2>", "有风险", "已 19 天没有活动", "运行小时连续 3 个月下降", "本月措施", "停机 4.0 → 2.0 小时", "分群条目 ann"} {
		if !strings.Contains(zh, want) {
			t.Errorf("zh-CN report lacks %q", want)
		}
	}
	for lang, page := range map[string]string{"en": en, "zh-CN": zh} {
		if strings.Contains(page, missing) || strings.Contains(page, "%!") {
			t.Errorf("%s report has an untranslated key or a bad format", lang)
		}
	}
}
