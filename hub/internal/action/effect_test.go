package action

import (
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

func berlin(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// improved is a machine that runs 00:00-20:00 every day with one stop at
// 08:00: four hours long until 2026-10-22, two hours from then on. The
// after window holds 2026-10-25, a 25 hour day (its extra hour runs).
func improved(t *testing.T, loc *time.Location) *state.Timeline {
	tl := &state.Timeline{}
	set := func(at time.Time, st state.State) {
		ns := at.UnixNano()
		tl.Observe(ns)
		tl.SetState(ns, st)
		if st == state.Running {
			tl.SetRun(ns, state.True)
		} else {
			tl.SetRun(ns, state.False)
		}
	}
	for d := time.Date(2026, 10, 1, 0, 0, 0, 0, loc); d.Before(time.Date(2026, 11, 10, 0, 0, 0, 0, loc)); d = d.AddDate(0, 0, 1) {
		at := func(h int) time.Time { return time.Date(d.Year(), d.Month(), d.Day(), h, 0, 0, 0, loc) }
		stop := 12
		if !d.Before(time.Date(2026, 10, 22, 0, 0, 0, 0, loc)) {
			stop = 10
		}
		set(at(0), state.Running)
		set(at(8), state.Down)
		set(at(stop), state.Running)
		set(at(20), state.Idle)
	}
	tl.Observe(time.Date(2026, 11, 10, 0, 0, 0, 0, loc).UnixNano())
	return tl
}

func TestCompareInjectedImprovement(t *testing.T) {
	loc := berlin(t)
	tl := improved(t, loc)
	eq := activity.Equipment{Key: signal.Key{Site: "s", Line: "L1", Equipment: "M1"}, Registered: true}
	// One event a day before, one every other day after.
	events := func(d activity.Period) int {
		if d.Start.Before(time.Date(2026, 10, 22, 0, 0, 0, 0, loc)) || d.Start.Day()%2 == 0 {
			return 1
		}
		return 0
	}
	fig := func(d activity.Period) Day {
		f := activity.Compute(eq, tl, nil, d, 0)
		return Day{RunSeconds: f.RunSeconds(), BusySeconds: f.BusySeconds(), DownSeconds: f.Seconds[state.Down],
			Failures: f.Failures, Events: events(d)}
	}
	opened := time.Date(2026, 10, 20, 10, 0, 0, 0, loc)
	done := time.Date(2026, 10, 22, 15, 0, 0, 0, loc)

	// Before: 2026-10-06..19, 16 h run, 4 h down, 24 h busy a day.
	// After: 2026-10-23..11-05, 18 h run and 2 h down a day, but 2026-10-25
	// runs 19 h of its 25: 13 x 18 + 19 = 253 h run over 13 x 24 + 25 = 337 h busy.
	// (Variables, not constants: the deltas are float64 arithmetic.)
	afterRun, afterAvail, beforeAvail := 253.0, 253.0, 16.0
	afterRun /= 14
	afterAvail /= 337
	beforeAvail /= 24
	now := time.Date(2026, 11, 6, 0, 0, 0, 0, loc)
	e := Compare(opened, done, now, 14, loc, fig)
	if !e.Complete || e.Before.Days != 14 || e.After.Days != 14 {
		t.Fatalf("complete %v, days %d and %d; want true, 14 and 14", e.Complete, e.Before.Days, e.After.Days)
	}
	if !e.Before.From.Equal(time.Date(2026, 10, 6, 0, 0, 0, 0, loc)) || !e.After.To.Equal(time.Date(2026, 11, 6, 0, 0, 0, 0, loc)) {
		t.Errorf("windows %v..%v and %v..%v", e.Before.From, e.Before.To, e.After.From, e.After.To)
	}
	check := func(name string, got, want float64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	check("before run h/day", e.Before.RunHoursPerDay, 16)
	check("before down h/day", e.Before.DownHoursPerDay, 4)
	check("before availability", *e.Before.Availability, beforeAvail)
	check("before failures/day", e.Before.FailuresPerDay, 1)
	check("before events/day", e.Before.EventsPerDay, 1)
	check("after run h/day", e.After.RunHoursPerDay, afterRun)
	check("after down h/day", e.After.DownHoursPerDay, 2)
	check("after availability", *e.After.Availability, afterAvail)
	check("after failures/day", e.After.FailuresPerDay, 1)
	// Even days of 10-23..11-05: 24, 26, 28, 30, 2, 4.
	check("after events", float64(e.After.Events), 6)
	check("delta down h/day", e.Delta.DownHoursPerDay, -2)
	check("delta run h/day", e.Delta.RunHoursPerDay, afterRun-16)
	check("delta availability", *e.Delta.Availability, afterAvail-beforeAvail)
	check("delta failures/day", e.Delta.FailuresPerDay, 0)
	afterEvents := 6.0
	afterEvents /= 14
	check("delta events/day", e.Delta.EventsPerDay, afterEvents-1)

	// Part way through the after window: only the days that ended count.
	e = Compare(opened, done, time.Date(2026, 11, 3, 12, 0, 0, 0, loc), 14, loc, fig)
	if e.Complete || e.After.Days != 11 {
		t.Fatalf("complete %v, after days %d; want false, 11", e.Complete, e.After.Days)
	}
	check("partial after run h/day", e.After.RunHoursPerDay, 199.0/11)
	// Before a day of the after window has ended there is no change to show.
	if e = Compare(opened, done, time.Date(2026, 10, 23, 23, 0, 0, 0, loc), 14, loc, fig); e.After.Days != 0 || e.Delta != nil || e.Before.Days != 14 {
		t.Errorf("the day after done: after days %d, delta %+v", e.After.Days, e.Delta)
	}
}

func TestWindowsAcrossSpringForward(t *testing.T) {
	loc := berlin(t)
	before, after := Windows(time.Date(2026, 3, 30, 9, 0, 0, 0, loc), time.Date(2026, 3, 27, 23, 0, 0, 0, loc), 3, loc)
	var hours []float64
	for _, d := range append(before, after...) {
		hours = append(hours, d.Hours())
	}
	want := []float64{24, 24, 23, 24, 23, 24} // 03-27..29, then 03-28..30
	for i := range want {
		if hours[i] != want[i] {
			t.Fatalf("day lengths %v, want %v", hours, want)
		}
	}
}
