package activity

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/calendar"
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

var tiers = Tiers{High: 400 * time.Hour, Medium: 200 * time.Hour, Low: 80 * time.Hour}

func TestPeriodLengthsAcrossDST(t *testing.T) {
	loc := berlin(t)
	for name, want := range map[string]float64{"2026-03": 743, "2026-10": 745, "2026-02": 672, "2026-07": 744} {
		m, err := ParseMonth(name, loc)
		if err != nil {
			t.Fatal(err)
		}
		if m.Hours() != want {
			t.Errorf("%s: %v h, want %v", name, m.Hours(), want)
		}
	}
	if d := DayOf(time.Date(2026, 10, 25, 12, 0, 0, 0, loc), loc); d.Hours() != 25 || d.Name() != "2026-10-25" {
		t.Errorf("fall-back day: %v h %s", d.Hours(), d.Name())
	}
	// The repeated hour 02:00-03:00 on 2026-10-25 has two distinct names.
	first := time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC) // 02:30 CEST
	h1, h2 := HourOf(first, loc), HourOf(first.Add(time.Hour), loc)
	if h1.Name() == h2.Name() || h1.Hours() != 1 || !h1.End.Equal(h2.Start) {
		t.Errorf("repeated hour: %s %s", h1.Name(), h2.Name())
	}
	days := Between(Day, time.Date(2026, 10, 1, 0, 0, 0, 0, loc), time.Date(2026, 10, 31, 23, 0, 0, 0, loc), loc, nil)
	var sum float64
	for _, d := range days {
		sum += d.Hours()
	}
	if len(days) != 31 || sum != 745 {
		t.Errorf("october days: %d, %v h", len(days), sum)
	}
}

func TestMonthsBetween(t *testing.T) {
	loc := berlin(t)
	// 2026-09-30 23:30 UTC is already October 1st in Berlin.
	ms := MonthsBetween(time.Date(2026, 9, 30, 23, 30, 0, 0, time.UTC), time.Date(2026, 11, 1, 0, 0, 0, 0, loc), loc)
	if len(ms) != 2 || ms[0].Name() != "2026-10" || ms[1].Name() != "2026-11" {
		t.Fatalf("got %v", ms)
	}
}

func eq(line, id string) Equipment {
	return Equipment{Key: signal.Key{Site: "s", Line: line, Equipment: id}, Registered: true}
}

func TestRunAcrossMonthEndIsSplit(t *testing.T) {
	loc := berlin(t)
	oct, _ := ParseMonth("2026-10", loc)
	var tl state.Timeline
	at := func(m time.Month, d, h int) int64 { return time.Date(2026, m, d, h, 0, 0, 0, loc).UnixNano() }
	tl.Observe(at(10, 31, 20))
	tl.SetRun(at(10, 31, 20), state.True)
	tl.SetRun(at(11, 1, 4), state.False)
	tl.Observe(at(11, 2, 0))
	a := Compute(eq("L1", "M1"), &tl, nil, oct, 80*time.Hour)
	b := Compute(eq("L1", "M1"), &tl, nil, MonthOf(oct.End, loc), 80*time.Hour)
	if a.RunHours() != 4 || b.RunHours() != 4 {
		t.Fatalf("october %v h, november %v h; want 4 and 4", a.RunHours(), b.RunHours())
	}
	if a.Active() {
		t.Fatal("4 h is not an active month")
	}
	// States add up to the calendar length.
	var sum float64
	for _, s := range a.Seconds {
		sum += s
	}
	if sum != oct.Seconds() {
		t.Fatalf("states add to %v s, month is %v s", sum, oct.Seconds())
	}
}

// A day with shifts, a planned break, a breakdown across the shift change and
// an hour of signal loss, worked out by hand.
func TestDayFigures(t *testing.T) {
	loc := berlin(t)
	at := func(h, m int) int64 { return time.Date(2026, 10, 6, h, m, 0, 0, loc).UnixNano() }
	cal := &calendar.Calendar{Loc: loc,
		Shifts: []calendar.Recurring{{Name: "early", Start: 6 * 60, End: 14 * 60}, {Name: "late", Start: 14 * 60, End: 22 * 60}},
		Stops:  []calendar.Recurring{{Name: "break", Start: 12 * 60, End: 12*60 + 30}},
	}
	tl := &state.Timeline{Timeout: int64(30 * time.Minute)}
	obs := func(h, m int, st state.State) {
		tl.Observe(at(h, m))
		tl.SetState(at(h, m), st)
		if st == state.Running {
			tl.SetRun(at(h, m), state.True)
		} else {
			tl.SetRun(at(h, m), state.False)
		}
	}
	obs(0, 0, state.Idle)
	for m := 0; m <= 18*60; m += 10 { // a gauge every 10 minutes until 18:00
		tl.Observe(at(0, m))
	}
	obs(6, 0, state.Setup)    // 06:00-07:00 setup
	obs(7, 0, state.Running)  // 07:00-13:00 running, except the break (running through it counts as running)
	obs(13, 0, state.Down)    // 13:00-15:00 down: one failure
	obs(15, 0, state.Running) // 15:00-18:00 running
	obs(18, 0, state.Idle)    // 18:00 idle, then silent: unknown from 18:30
	tl.Observe(at(20, 0))     // back at 20:00 (still idle)
	for m := 20 * 60; m < 24*60; m += 10 {
		tl.Observe(at(0, m))
	}
	tl.Observe(time.Date(2026, 10, 7, 0, 0, 0, 0, loc).UnixNano())
	day := DayOf(time.Unix(0, at(12, 0)), loc)
	f := Compute(eq("L1", "M1"), tl, cal, day, 0)
	h := func(s state.State) float64 { return f.Seconds[s] / 3600 }
	want := map[state.State]float64{
		state.NoShift: 6 + 2, state.Setup: 1, state.Running: 6 + 3, state.Down: 2,
		state.Idle: 0.5 + 2, state.Unknown: 1.5, state.PlannedStop: 0,
	}
	for s, w := range want {
		if h(s) != w {
			t.Errorf("%v: %v h, want %v", s, h(s), w)
		}
	}
	if f.Failures != 1 {
		t.Errorf("failures %d", f.Failures)
	}
	if av, _ := f.Availability(); math.Abs(av-9.0/14.5) > 1e-12 {
		t.Errorf("availability %v", av)
	}
	if mttr, _ := f.MTTR(); mttr != 7200 {
		t.Errorf("mttr %v", mttr)
	}
	if c := f.Coverage(); math.Abs(c-22.5/24) > 1e-12 {
		t.Errorf("coverage %v", c)
	}
	// The two shifts, as periods: early 06-14 holds 1 h setup, 6 h running,
	// 1 h down; the failure belongs to the early shift only.
	shifts := Between(Shift, day.Start, day.End.Add(-1), loc, cal)
	if len(shifts) != 2 {
		t.Fatalf("shifts %v", shifts)
	}
	early := Compute(eq("L1", "M1"), tl, cal, shifts[0], 0)
	late := Compute(eq("L1", "M1"), tl, cal, shifts[1], 0)
	if early.RunHours() != 6 || early.Seconds[state.Down] != 3600 || early.Failures != 1 || late.Failures != 0 || late.Seconds[state.Down] != 3600 {
		t.Errorf("early %v/%d, late %v/%d", early.Seconds, early.Failures, late.Seconds, late.Failures)
	}
	// The break while stopped would be planned: check with an idle machine.
	idle := &state.Timeline{}
	idle.Observe(at(0, 0))
	idle.SetRun(at(0, 0), state.False)
	idle.Observe(time.Date(2026, 10, 7, 0, 0, 0, 0, loc).UnixNano())
	fi := Compute(eq("L1", "M2"), idle, cal, day, 0)
	if fi.Seconds[state.PlannedStop] != 1800 || fi.Seconds[state.Idle] != 15.5*3600 || fi.Seconds[state.NoShift] != 8*3600 {
		t.Errorf("idle machine: %v", fi.Seconds)
	}
}

func TestRollUpCountsSilentEquipment(t *testing.T) {
	loc := berlin(t)
	m, _ := ParseMonth("2026-10", loc)
	var busy state.Timeline
	busy.Observe(m.Start.UnixNano())
	busy.SetRun(m.Start.UnixNano(), state.True)
	busy.Observe(m.Start.Add(100 * time.Hour).UnixNano())
	figs := []Figures{
		Compute(eq("L1", "M1"), &busy, nil, m, 80*time.Hour),
		Compute(eq("L1", "M2"), nil, nil, m, 80*time.Hour),
		Compute(Equipment{Key: signal.Key{Site: "s", Line: "L1", Equipment: "X"}}, &busy, nil, m, 80*time.Hour),
		Compute(eq("L2", "M1"), &busy, nil, m, 80*time.Hour),
	}
	rs := RollUp(figs, tiers)
	if len(rs) != 3 {
		t.Fatalf("got %+v", rs)
	}
	site, l1 := rs[0], rs[1]
	if site.Line != "" || site.Registered != 3 || site.Active != 2 || l1.Line != "L1" || l1.Registered != 2 || l1.Active != 1 || l1.ActiveRate() != 0.5 {
		t.Fatalf("site %+v\nL1 %+v", site, l1)
	}
	if l1.Tiers["low"] != 1 || l1.Tiers["inactive"] != 1 {
		t.Fatalf("tiers %v", l1.Tiers)
	}
}

func TestOperatorRunIsShared(t *testing.T) {
	var tl state.Timeline
	tl.Observe(0)
	tl.SetRun(0, state.True)
	tl.AddOp(state.OpEvent{T: 0, Kind: state.OpSet, Op: "a"})
	tl.AddOp(state.OpEvent{T: 100e9, Kind: state.OpLogin, Op: "b"})
	tl.SetRun(200e9, state.False)
	tl.Observe(300e9)
	p := Period{Kind: Month, Start: time.Unix(0, 0), End: time.Unix(300, 0)}
	got := OperatorRun(&tl, nil, p)
	if got["a"] != 150 || got["b"] != 50 {
		t.Fatalf("got %v", got)
	}
}

func TestAttritionRule(t *testing.T) {
	r := AttritionRule{Months: 3, Drop: 0.3, History: 6}
	if ok, why := r.Risk([]float64{100, 110, 90, 80, 60, 40}); !ok || !strings.Contains(why, "3 months in a row") {
		t.Fatalf("decline not flagged: %v %q", ok, why)
	}
	for _, h := range [][]float64{
		{100, 110, 90, 95, 60, 40},  // not falling every month
		{100, 110, 100, 95, 90, 85}, // falling, but only a little
		{80, 60, 40},                // too little history
		{0, 0, 0, 0, 0, 0},
	} {
		if ok, why := r.Risk(h); ok {
			t.Errorf("%v flagged: %s", h, why)
		}
	}
}
