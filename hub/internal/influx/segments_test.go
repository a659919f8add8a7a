package influx

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/segment"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// A machine that changes segment keeps one point for the month: the
// rewrite replaces the old segment's point instead of adding one beside
// it; another machine's point stays.
func TestWriteSegmentsReplaces(t *testing.T) {
	in := testenv.StartInflux(t, "floorpulse")
	w := New(Config{URL: in.URL, Bucket: "floorpulse/autogen", Timeout: time.Minute})
	defer w.Close()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	oct := time.Date(2026, 10, 1, 0, 0, 0, 0, loc)
	m1 := segment.Assignment{Kind: segment.Equipment, Site: "s", Line: "L1", ID: "M1", Month: "2026-10", Segment: segment.Steady,
		Scores: segment.Scores{Recency: 3, Frequency: 3, Volume: 1}, RunHours: 180, ActiveDays: 30,
		Reason: segment.Reason{Code: segment.ReasonSteady, Hours: 180, ActiveDays: 30, Date: "2026-10-31"}}
	m2 := m1
	m2.ID, m2.Segment, m2.Reason.Code = "M2", segment.Core, segment.ReasonCore
	op := segment.Assignment{Kind: segment.Operator, Site: "s", ID: "ann", Month: "2026-10", Segment: segment.Dormant,
		DaysSinceActive: 40, Reason: segment.Reason{Code: segment.ReasonDormant, Date: "2026-09-21", Days: 40}}
	ctx := context.Background()
	if err := w.WriteSegments(ctx, oct, []segment.Assignment{m1, m2, op}); err != nil {
		t.Fatal(err)
	}
	m1.Segment, m1.Reason = segment.Declining, segment.Reason{Code: segment.ReasonBelowMean, Months: 3, Hours: 90, FromHours: 180, Change: -0.5}
	if err := w.WriteSegments(ctx, oct, []segment.Assignment{m1}); err != nil {
		t.Fatal(err)
	}
	got := in.Query(t, `SELECT "segment", "reason", "volume" FROM "floorpulse"."autogen"."equipment_segment" GROUP BY "equipment"`)
	for _, want := range []string{`"M1"`, `"declining","below_mean",1`, `"M2"`, `"core","core",1`, oct.UTC().Format(time.RFC3339)} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in %s", want, got)
		}
	}
	if strings.Contains(got, `"steady"`) || strings.Count(got, `"values"`) != 2 {
		t.Errorf("want one point per machine, M1 declining only: %s", got)
	}
	got = in.Query(t, `SELECT "segment", "reason_en" FROM "floorpulse"."autogen"."operator_segment"`)
	if !strings.Contains(got, `"dormant","last active on 2026-09-21, 40 days without activity"`) {
		t.Errorf("operator point: %s", got)
	}
}
