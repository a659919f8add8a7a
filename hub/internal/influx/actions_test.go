package influx

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/action"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// A done action's point carries its effect; written again after it was
// reopened, the point loses the done time and the effect instead of
// keeping them beside the new status.
func TestWriteActionsReplaces(t *testing.T) {
	in := testenv.StartInflux(t, "floorpulse")
	w := New(Config{URL: in.URL, Bucket: "floorpulse/autogen", Timeout: time.Minute})
	defer w.Close()
	created := time.Date(2026, 10, 20, 8, 0, 0, 0, time.UTC)
	done := created.Add(50 * time.Hour)
	av := 0.75
	a := action.JSON{Action: action.Action{ID: "A000001", What: "replace the seal", Owner: "tom", Due: "2026-10-25", Status: action.Done,
		CreatedAt: created, DoneAt: &done, Subject: action.Subject{Kind: action.SubjectMachine, Site: "s", Line: "L1", Equipment: "M1"}},
		Effect: &action.Effect{WindowDays: 14, Complete: true, Before: action.Window{Days: 14, DownHoursPerDay: 4},
			After: action.Window{Days: 14, DownHoursPerDay: 2, Availability: &av}}}
	ctx := context.Background()
	if err := w.WriteActions(ctx, []action.JSON{a}); err != nil {
		t.Fatal(err)
	}
	q := `SELECT "status", "done_at", "before_downtime_hours_per_day", "after_downtime_hours_per_day", "after_availability" FROM "floorpulse"."autogen"."action" WHERE "action" = 'A000001'`
	if got := in.Query(t, q); !strings.Contains(got, `"done",`+itoa(done.Unix())+`,4,2,0.75`) {
		t.Fatalf("done action: %s", got)
	}
	a.Status, a.DoneAt, a.Effect = action.Open, nil, nil
	if err := w.WriteActions(ctx, []action.JSON{a}); err != nil {
		t.Fatal(err)
	}
	if got := in.Query(t, q); !strings.Contains(got, `"open",null,null,null,null`) || strings.Count(got, `"open"`) != 1 {
		t.Fatalf("reopened action: %s", got)
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
