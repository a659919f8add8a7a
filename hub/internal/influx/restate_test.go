package influx

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// On a real InfluxDB 1.8, a restatement that removes figures (an
// equipment's ideal cycle time gone: no oee, performance or losses; its
// power gone: no energy fields; an operator no longer logged in that month)
// leaves none of them behind, and every other point and field stays as
// written: the periods the restatement did not cover, the other
// equipment, lines and sites.
func TestRestatementRemovesFields(t *testing.T) {
	in := testenv.StartInflux(t, "fp")
	w := New(Config{URL: in.URL, Bucket: "fp/autogen", Timeout: 10 * time.Second})
	defer w.Close()
	ctx := context.Background()
	loc := time.UTC
	day := activity.DayOf(time.Date(2026, 10, 5, 0, 0, 0, 0, loc), loc)
	month := activity.MonthOf(day.Start, loc)
	hour := func(h int) activity.Period { return activity.HourOf(day.Start.Add(time.Duration(h)*time.Hour), loc) }
	m1 := signal.Key{Site: "s", Line: "L1", Equipment: "M1"}
	m2 := signal.Key{Site: "s", Line: "L1", Equipment: "M2"}
	fig := func(k signal.Key, p activity.Period, ideal time.Duration, energy bool) activity.Figures {
		f := activity.Figures{Equipment: activity.Equipment{Key: k, Class: "cnc", Registered: true, IdealCycle: ideal}, Period: p}
		f.Seconds[state.Running], f.Seconds[state.Idle] = p.Seconds()/2, p.Seconds()/2
		f.Good, f.HasParts, f.HasEnergy = 10, true, energy
		f.Energy[state.Running] = 5
		return f
	}
	result := func(ideal time.Duration, energy bool, hours []int, ops ...string) engine.Result {
		var res engine.Result
		for _, p := range append([]activity.Period{day, month}, func() (ps []activity.Period) {
			for _, h := range hours {
				ps = append(ps, hour(h))
			}
			return ps
		}()...) {
			res.Equipment = append(res.Equipment, fig(m1, p, ideal, energy))
		}
		res.Rollups = activity.RollUp(res.Equipment, activity.Tiers{})
		for _, op := range ops {
			res.Operators = append(res.Operators, activity.OperatorFigures{Site: "s", Line: "L1", Operator: op, Period: month, RunSeconds: 3600, GroupRunSeconds: 7200},
				activity.OperatorFigures{Site: "s", Operator: op, Period: month, RunSeconds: 3600, GroupRunSeconds: 7200, Tier: "low"})
		}
		return res
	}
	// As first written: M1 with oee and energy for hours 6 to 9, the day
	// and the month; M2 likewise for hour 6; operators A and B.
	first := result(time.Minute, true, []int{6, 7, 8, 9}, "A", "B")
	first.Equipment = append(first.Equipment, fig(m2, hour(6), time.Minute, true))
	if err := w.Write(ctx, first); err != nil {
		t.Fatal(err)
	}
	// Restated: hours 7 and 8, the day, the month, without the ideal cycle
	// time and power; only operator B.
	if err := w.Write(ctx, result(0, false, []int{7, 8}, "B")); err != nil {
		t.Fatal(err)
	}
	count := func(q string) string {
		t.Helper()
		return in.Query(t, q)
	}
	has := func(q, want string) {
		t.Helper()
		if got := count(q); !strings.Contains(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", q, got, want)
		}
	}
	// M1: oee and energy only in hours 6 and 9 (not restated); run time in
	// all four hours, the day and the month.
	has(`SELECT count(oee), count(energy_kwh), count(run_seconds), count(parts_good) FROM fp.autogen.equipment_activity WHERE equipment='M1' AND period='hour'`,
		`"values":[["1970-01-01T00:00:00Z",2,2,4,4]]`)
	for _, kind := range []string{"day", "month"} {
		has(`SELECT count(run_seconds), count(oee), count(energy_kwh_running) FROM fp.autogen.equipment_activity WHERE equipment='M1' AND period='`+kind+`'`,
			`"values":[["1970-01-01T00:00:00Z",1,null,null]]`)
	}
	// Lines and the site: the same for the restated periods.
	for _, m := range []string{"line_activity", "site_activity"} {
		has(`SELECT count(run_hours), count(oee), count(energy_kwh) FROM fp.autogen.`+m+` WHERE period='hour'`, `"values":[["1970-01-01T00:00:00Z",4,2,2]]`)
	}
	// M2, never restated, keeps everything.
	has(`SELECT count(oee), count(energy_kwh), count(run_seconds) FROM fp.autogen.equipment_activity WHERE equipment='M2'`, `"values":[["1970-01-01T00:00:00Z",1,1,1]]`)
	// Operators: B on the line and over the site; A gone.
	has(`SELECT count(run_seconds) FROM fp.autogen.operator_activity GROUP BY operator`, `"tags":{"operator":"B"},"columns":["time","count"],"values":[["1970-01-01T00:00:00Z",2]]`)
	if got := count(`SELECT count(run_seconds) FROM fp.autogen.operator_activity WHERE operator='A'`); strings.Contains(got, `"values"`) {
		t.Errorf("operator A is still there: %s", got)
	}
}
