package api

import (
	"encoding/json"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// periodsEngine is a plant in Berlin around both changes of 2026 (the
// 25-hour 2026-10-25, the 23-hour 2026-03-29), without a signal timeout:
//
//   - L1/M1 (ideal cycle 60 s, an energy meter) runs from Oct 24 22:00 to
//     Oct 25 12:00, idles to 18:00, runs to Oct 26 02:00; good parts 80 at
//     Oct 24 23:30, 600 more (and 20 scrap) at Oct 25 12:00, 100 more at Oct
//     26 01:00; kWh 30, 260 (running), 5 (idle at 17:00), 40 at those times.
//   - L1/M2 (no counter, no ideal cycle) runs Oct 25 06:00-10:00.
//   - L2/P1 (ideal cycle 30 s) works shifts early 06-14, late 14-22, night
//     22-06, with a planned stop 09:00-09:15; runs from Oct 24 20:00 to
//     Oct 25 08:00, idles to 10:30 (but in the planned stop); good parts
//     100 at Oct 24 21:00 and 900 more at Oct 25 03:30.
//   - L3/M3 (ideal cycle 60 s) runs all of Mar 29; 1000 parts at 23:00.
//
// Before a machine's first word and after its latest, its state is unknown.
func periodsEngine(t *testing.T) (*engine.Engine, *time.Location) {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	m1 := signal.Key{Site: "s", Line: "L1", Equipment: "M1"}
	m2 := signal.Key{Site: "s", Line: "L1", Equipment: "M2"}
	p1 := signal.Key{Site: "s", Line: "L2", Equipment: "P1"}
	m3 := signal.Key{Site: "s", Line: "L3", Equipment: "M3"}
	shifts := &calendar.Calendar{Loc: loc, Shifts: []calendar.Recurring{
		{Name: "early", Start: 6 * 60, End: 14 * 60}, {Name: "late", Start: 14 * 60, End: 22 * 60}, {Name: "night", Start: 22 * 60, End: 6 * 60}},
		Stops: []calendar.Recurring{{Name: "cleaning", Start: 9 * 60, End: 9*60 + 15}}}
	e := engine.New(engine.Options{Location: loc, Threshold: func(string) time.Duration { return time.Hour },
		Registry: []activity.Equipment{{Key: m1, IdealCycle: time.Minute}, {Key: m2}, {Key: p1, IdealCycle: 30 * time.Second}, {Key: m3, IdealCycle: time.Minute}},
		Calendar: func(_, line string) *calendar.Calendar {
			if line == "L2" {
				return shifts
			}
			return nil
		}}, nil)
	at := func(mo time.Month, d, h, min int) time.Time { return time.Date(2026, mo, d, h, min, 0, 0, loc) }
	sig := func(k signal.Key, name string, v signal.Value, t time.Time) signal.Signal {
		return signal.Signal{Site: k.Site, Line: k.Line, Equipment: k.Equipment, Name: name, Value: v, Time: t}
	}
	on, off, n := signal.Bool(true), signal.Bool(false), signal.Number
	oct := time.October
	e.Apply([]signal.Signal{
		sig(m1, signal.Run, on, at(oct, 24, 22, 0)), sig(m1, signal.Count, n(0), at(oct, 24, 22, 0)),
		sig(m1, signal.Scrap, n(0), at(oct, 24, 22, 0)), sig(m1, signal.Energy, n(1000), at(oct, 24, 22, 0)),
		sig(m1, signal.Count, n(80), at(oct, 24, 23, 30)), sig(m1, signal.Energy, n(1030), at(oct, 24, 23, 30)),
		sig(m1, signal.Run, off, at(oct, 25, 12, 0)), sig(m1, signal.Count, n(680), at(oct, 25, 12, 0)),
		sig(m1, signal.Scrap, n(20), at(oct, 25, 12, 0)), sig(m1, signal.Energy, n(1290), at(oct, 25, 12, 0)),
		sig(m1, signal.Energy, n(1295), at(oct, 25, 17, 0)),
		sig(m1, signal.Run, on, at(oct, 25, 18, 0)),
		sig(m1, signal.Count, n(780), at(oct, 26, 1, 0)), sig(m1, signal.Energy, n(1335), at(oct, 26, 1, 0)),
		sig(m1, signal.Run, off, at(oct, 26, 2, 0)),

		sig(m2, signal.Run, on, at(oct, 25, 6, 0)), sig(m2, signal.Run, off, at(oct, 25, 10, 0)),

		sig(p1, signal.Run, on, at(oct, 24, 20, 0)), sig(p1, signal.Count, n(0), at(oct, 24, 20, 0)),
		sig(p1, signal.Count, n(100), at(oct, 24, 21, 0)), sig(p1, signal.Count, n(1000), at(oct, 25, 3, 30)),
		sig(p1, signal.Run, off, at(oct, 25, 8, 0)), sig(p1, signal.Run, off, at(oct, 25, 10, 30)),

		sig(m3, signal.Run, on, at(time.March, 29, 0, 0)), sig(m3, signal.Count, n(0), at(time.March, 29, 0, 0)),
		sig(m3, signal.Count, n(1000), at(time.March, 29, 23, 0)), sig(m3, signal.Run, off, at(time.March, 30, 0, 0)),
	})
	return e, loc
}

// want is a period's hand-computed figures (hours; nil: absent).
type want struct {
	period         string
	calendar, run  float64
	good, scrap    float64
	oee, avail     *float64
	perf, quality  *float64
	loss           *LossJSON
	kwh, waste     *float64
	mainLoss       string
	unknown, idle  float64
	noOEE          bool // no oee block at all (no counter in the scope)
	availabilityOf *float64
}

func f(v float64) *float64 { return &v }

func checkPeriod(t *testing.T, name string, got PeriodJSON, w want) {
	t.Helper()
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s %s: %v, want %v", name, what, got, want)
		}
	}
	nearp := func(what string, got, want *float64) {
		t.Helper()
		switch {
		case want == nil && got != nil:
			t.Errorf("%s %s: %v, want absent", name, what, *got)
		case want != nil && got == nil:
			t.Errorf("%s %s: absent, want %v", name, what, *want)
		case want != nil:
			near(what, *got, *want)
		}
	}
	if got.Period != w.period {
		t.Errorf("%s: period %q, want %q", name, got.Period, w.period)
	}
	near("calendar hours", got.CalendarHours, w.calendar)
	near("run hours", got.RunHours, w.run)
	near("unknown hours", got.StateHours["unknown"], w.unknown)
	near("idle hours", got.StateHours["idle"], w.idle)
	nearp("availability", got.Availability, w.availabilityOf)
	if w.noOEE {
		if got.OEE != nil {
			t.Errorf("%s: an oee block %+v, want none", name, got.OEE)
		}
	} else if o := got.OEE; o == nil {
		t.Errorf("%s: no oee block", name)
	} else {
		near("parts good", o.Good, w.good)
		near("parts scrap", o.Scrap, w.scrap)
		nearp("oee", o.OEE, w.oee)
		nearp("oee availability", o.Availability, w.avail)
		nearp("performance", o.Performance, w.perf)
		nearp("quality", o.Quality, w.quality)
		switch {
		case w.loss == nil && o.LossHours != nil:
			t.Errorf("%s: loss hours %+v, want none", name, *o.LossHours)
		case w.loss != nil && o.LossHours == nil:
			t.Errorf("%s: no loss hours", name)
		case w.loss != nil:
			near("availability loss", o.LossHours.Availability, w.loss.Availability)
			near("performance loss", o.LossHours.Performance, w.loss.Performance)
			near("quality loss", o.LossHours.Quality, w.loss.Quality)
			near("productive", o.LossHours.Productive, w.loss.Productive)
		}
	}
	if got.MainLoss != w.mainLoss {
		t.Errorf("%s: main loss %q, want %q", name, got.MainLoss, w.mainLoss)
	}
	if w.kwh != nil {
		if got.Energy == nil {
			t.Errorf("%s: no energy", name)
		} else {
			near("kwh", got.Energy.KWh, *w.kwh)
			near("waste kwh", got.Energy.WasteKWh, *w.waste)
		}
	}
}

func breakdownOf(t *testing.T, srv *httptest.Server, path string) BreakdownJSON {
	t.Helper()
	code, body := get(t, srv, "GET", path)
	if code != 200 {
		t.Fatalf("%s: %d %s", path, code, body)
	}
	var b BreakdownJSON
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

func periodNamed(t *testing.T, b BreakdownJSON, name string) PeriodJSON {
	t.Helper()
	for _, p := range b.Periods {
		if p.Period == name {
			return p
		}
	}
	t.Fatalf("%s %s: no period %s", b.Kind, b.Of, name)
	return PeriodJSON{}
}

// A month by day and a day by hour, of a machine, a line and the site,
// with the figures worked out by hand (periodsEngine): the 25-hour
// 2026-10-25 and the 23-hour 2026-03-29 included.
func TestDaysAndHours(t *testing.T) {
	e, loc := periodsEngine(t)
	srv := httptest.NewServer(New(e, loc, "s", nil))
	defer srv.Close()

	m1 := breakdownOf(t, srv, "/api/v1/months/2026-10/days?line=L1&equipment=M1")
	if m1.Kind != "day" || m1.Of != "2026-10" || m1.Scope != ScopeEquipment || m1.CalendarHours != 745 || len(m1.Periods) != 31 {
		t.Fatalf("M1's October: kind %s of %s scope %s, %v h, %d days", m1.Kind, m1.Of, m1.Scope, m1.CalendarHours, len(m1.Periods))
	}
	// Oct 24: 2 h running from 22:00, 80 parts of 60 s: 4800 s of 7200.
	checkPeriod(t, "M1 Oct 24", periodNamed(t, m1, "2026-10-24"), want{period: "2026-10-24", calendar: 24, run: 2, unknown: 22,
		good: 80, oee: f(80 * 60 / 7200.0), avail: f(1), perf: f(4800 / 7200.0), quality: f(1), availabilityOf: f(1),
		loss: &LossJSON{Performance: 2 - 80/60.0, Productive: 80 / 60.0}, kwh: f(30), waste: f(0), mainLoss: LossPerformance})
	// Oct 25, 25 h: running 00:00-12:00 (13 h: 02:00-03:00 twice) and
	// 18:00-24:00, idle 12:00-18:00; 600 good and 20 scrap of 60 s.
	checkPeriod(t, "M1 Oct 25", periodNamed(t, m1, "2026-10-25"), want{period: "2026-10-25", calendar: 25, run: 19, idle: 6,
		good: 600, scrap: 20, oee: f(36000 / 90000.0), avail: f(19 / 25.0), perf: f(620 / 60.0 / 19), quality: f(600 / 620.0), availabilityOf: f(19 / 25.0),
		loss: &LossJSON{Availability: 6, Performance: 19 - 620/60.0, Quality: 20 / 60.0, Productive: 10}, kwh: f(265), waste: f(5), mainLoss: LossPerformance})
	// Oct 26: 2 h running, 100 parts; unknown after the latest word.
	checkPeriod(t, "M1 Oct 26", periodNamed(t, m1, "2026-10-26"), want{period: "2026-10-26", calendar: 24, run: 2, unknown: 22,
		good: 100, oee: f(6000 / 7200.0), avail: f(1), perf: f(6000 / 7200.0), quality: f(1), availabilityOf: f(1),
		loss: &LossJSON{Performance: 2 - 100/60.0, Productive: 100 / 60.0}, kwh: f(40), waste: f(0), mainLoss: LossPerformance})
	// A day without data: no planned busy time, so no OEE, but the counter
	// is there (0 parts).
	checkPeriod(t, "M1 Oct 5", periodNamed(t, m1, "2026-10-05"), want{period: "2026-10-05", calendar: 24, unknown: 24, kwh: f(0), waste: f(0)})

	// L1 on Oct 25: M1 and M2 (running 06:00-10:00, no counter): the OEE
	// is M1's, the availability over both machines' states.
	l1 := breakdownOf(t, srv, "/api/v1/months/2026-10/days?line=L1")
	if l1.Scope != ScopeLine || l1.Line != "L1" || len(l1.Periods) != 31 {
		t.Fatalf("L1: scope %s line %s, %d days", l1.Scope, l1.Line, len(l1.Periods))
	}
	checkPeriod(t, "L1 Oct 25", periodNamed(t, l1, "2026-10-25"), want{period: "2026-10-25", calendar: 25, run: 23, idle: 6, unknown: 21,
		good: 600, scrap: 20, oee: f(0.4), avail: f(19 / 25.0), perf: f(620 / 60.0 / 19), quality: f(600 / 620.0), availabilityOf: f(23 / 29.0),
		loss: &LossJSON{Availability: 6, Performance: 19 - 620/60.0, Quality: 20 / 60.0, Productive: 10}, kwh: f(265), waste: f(5), mainLoss: LossPerformance})

	// The site on Oct 25: M1 with P1 (running 00:00-08:00, 9 h; idle to
	// 10:30 less the planned stop, 2.25 h; 900 parts of 30 s = 7.5 h):
	// productive 17.5 h of 36.25 h.
	site := breakdownOf(t, srv, "/api/v1/months/2026-10/days")
	if site.Scope != ScopeSite || site.Line != "" {
		t.Fatalf("site: scope %s line %s", site.Scope, site.Line)
	}
	checkPeriod(t, "site Oct 25", periodNamed(t, site, "2026-10-25"), want{period: "2026-10-25", calendar: 25, run: 19 + 4 + 9, idle: 6 + 2.25,
		unknown: 21 + 25 - 11.5 + 25, good: 1500, scrap: 20, oee: f(17.5 / 36.25), avail: f(1 - 8.25/36.25),
		perf: f((620/60.0 + 7.5) / 28), quality: f(1500 / 1520.0), availabilityOf: f(32 / 40.25),
		loss: &LossJSON{Availability: 8.25, Performance: 19 - 620/60.0 + 1.5, Quality: 20 / 60.0, Productive: 17.5}, kwh: f(265), waste: f(5), mainLoss: LossPerformance})

	// The 25 hours of Oct 25, the repeated one named by its offset.
	hours := breakdownOf(t, srv, "/api/v1/days/2026-10-25/hours?line=L1&equipment=M1")
	if hours.Kind != "hour" || hours.CalendarHours != 25 || len(hours.Periods) != 25 {
		t.Fatalf("Oct 25 by hour: kind %s, %v h, %d hours", hours.Kind, hours.CalendarHours, len(hours.Periods))
	}
	if hours.Periods[2].Period != "2026-10-25T02+02:00" || hours.Periods[3].Period != "2026-10-25T02+01:00" {
		t.Errorf("the repeated hour: %s, %s", hours.Periods[2].Period, hours.Periods[3].Period)
	}
	// 17:00 (index 18: 02:00 came twice) idles and its meter reading of
	// 5 kWh is waste; 18:00 runs without a part.
	checkPeriod(t, "M1 Oct 25 17:00", hours.Periods[18], want{period: "2026-10-25T17+01:00", calendar: 1, idle: 1,
		oee: f(0), avail: f(0), availabilityOf: f(0), loss: &LossJSON{Availability: 1}, kwh: f(5), waste: f(5), mainLoss: LossAvailability})
	checkPeriod(t, "M1 Oct 25 18:00", hours.Periods[19], want{period: "2026-10-25T18+01:00", calendar: 1, run: 1,
		oee: f(0), avail: f(1), perf: f(0), availabilityOf: f(1), loss: &LossJSON{Performance: 1}, kwh: f(0), waste: f(0), mainLoss: LossPerformance})
	var sumRun, sumGood float64
	for _, p := range hours.Periods {
		sumRun += p.RunHours
		sumGood += p.OEE.Good
	}
	if math.Abs(sumRun-19) > 1e-9 || sumGood != 600 {
		t.Errorf("Oct 25's hours add up to %v run hours and %v parts, want 19 and 600", sumRun, sumGood)
	}

	// Spring: March has a 23-hour Mar 29, and that day 23 hours.
	m3 := breakdownOf(t, srv, "/api/v1/months/2026-03/days?line=L3&equipment=M3")
	if m3.CalendarHours != 743 || len(m3.Periods) != 31 {
		t.Fatalf("March: %v h, %d days", m3.CalendarHours, len(m3.Periods))
	}
	checkPeriod(t, "M3 Mar 29", periodNamed(t, m3, "2026-03-29"), want{period: "2026-03-29", calendar: 23, run: 23,
		good: 1000, oee: f(60000 / 82800.0), avail: f(1), perf: f(60000 / 82800.0), quality: f(1), availabilityOf: f(1),
		loss: &LossJSON{Performance: 23 - 1000/60.0, Productive: 1000 / 60.0}, mainLoss: LossPerformance})
	if h := breakdownOf(t, srv, "/api/v1/days/2026-03-29/hours?line=L3"); len(h.Periods) != 23 || h.CalendarHours != 23 {
		t.Errorf("Mar 29 by hour: %d hours, %v h", len(h.Periods), h.CalendarHours)
	} else if h.Periods[1].Period != "2026-03-29T01+01:00" || h.Periods[2].Period != "2026-03-29T03+02:00" {
		t.Errorf("Mar 29 skips 02:00: %s, %s", h.Periods[1].Period, h.Periods[2].Period)
	}
}

// A line's shifts, from its calendar: the night shift across the change
// from summer time lasts 9 hours; a day's shifts are those starting on it.
func TestShifts(t *testing.T) {
	e, loc := periodsEngine(t)
	srv := httptest.NewServer(New(e, loc, "s", nil))
	defer srv.Close()
	month := breakdownOf(t, srv, "/api/v1/months/2026-10/shifts?line=L2")
	if month.Kind != "shift" || len(month.Periods) != 93 {
		t.Fatalf("L2's October shifts: kind %s, %d shifts, want 93", month.Kind, len(month.Periods))
	}
	// Oct 24 late: unknown to 20:00, then 2 h running, 100 parts of 30 s.
	checkPeriod(t, "L2 Oct 24 late", periodNamed(t, month, "2026-10-24 late"), want{period: "2026-10-24 late", calendar: 8, run: 2, unknown: 6,
		good: 100, oee: f(3000 / 7200.0), avail: f(1), perf: f(3000 / 7200.0), quality: f(1), availabilityOf: f(1),
		loss: &LossJSON{Performance: 2 - 3000/3600.0, Productive: 3000 / 3600.0}, mainLoss: LossPerformance})
	// Oct 24 night, 22:00-06:00: 9 hours running, 900 parts (7.5 h).
	night := periodNamed(t, month, "2026-10-24 night")
	checkPeriod(t, "L2 Oct 24 night", night, want{period: "2026-10-24 night", calendar: 9, run: 9,
		good: 900, oee: f(7.5 / 9), avail: f(1), perf: f(7.5 / 9), quality: f(1), availabilityOf: f(1),
		loss: &LossJSON{Performance: 1.5, Productive: 7.5}, mainLoss: LossPerformance})
	if night.Shift != "night" || !night.Start.Equal(time.Date(2026, 10, 24, 22, 0, 0, 0, loc)) || !night.End.Equal(time.Date(2026, 10, 25, 6, 0, 0, 0, loc)) {
		t.Errorf("night shift %q %s..%s", night.Shift, night.Start, night.End)
	}
	// Oct 25 early: 2 h running, 2.25 h idle, the planned stop, nothing
	// made: OEE 0, the availability loss the main one.
	early := periodNamed(t, month, "2026-10-25 early")
	checkPeriod(t, "L2 Oct 25 early", early, want{period: "2026-10-25 early", calendar: 8, run: 2, idle: 2.25, unknown: 3.5,
		oee: f(0), avail: f(2 / 4.25), perf: f(0), availabilityOf: f(2 / 4.25),
		loss: &LossJSON{Availability: 2.25, Performance: 2}, mainLoss: LossAvailability})
	if h := early.StateHours["planned_stop"]; h != 0.25 {
		t.Errorf("the early shift's planned stop: %v h, want 0.25", h)
	}
	// Oct 25 late: nothing known, so no planned busy time and no OEE.
	checkPeriod(t, "L2 Oct 25 late", periodNamed(t, month, "2026-10-25 late"), want{period: "2026-10-25 late", calendar: 8, unknown: 8})

	day := breakdownOf(t, srv, "/api/v1/days/2026-10-24/shifts?line=L2&equipment=P1")
	var names []string
	for _, p := range day.Periods {
		names = append(names, p.Period)
	}
	if strings.Join(names, ",") != "2026-10-24 early,2026-10-24 late,2026-10-24 night" {
		t.Errorf("Oct 24's shifts: %v", names)
	}
	// The site's shifts are L2's (the other lines work around the clock).
	site := breakdownOf(t, srv, "/api/v1/days/2026-10-24/shifts")
	if len(site.Periods) != 3 || site.Periods[2].OEE == nil || site.Periods[2].OEE.Good != 900 {
		t.Errorf("the site's shifts of Oct 24: %+v", site.Periods)
	}
	// A line without shifts has none.
	if b := breakdownOf(t, srv, "/api/v1/months/2026-10/shifts?line=L1"); len(b.Periods) != 0 {
		t.Errorf("L1 works around the clock, yet %d shifts", len(b.Periods))
	}
}

// The days of a month are the points the engine writes for them (the
// figures of InfluxDB's period=day), and they add up to the month: parts,
// losses, energy and state hours.
func TestDaysAreTheEnginesAndAddUp(t *testing.T) {
	e, loc := periodsEngine(t)
	srv := httptest.NewServer(New(e, loc, "s", nil))
	defer srv.Close()
	oct, _ := activity.ParseMonth("2026-10", loc)
	dirty := engine.Dirty{}
	for _, k := range e.Keys() {
		dirty.Mark(k, oct.Start.UnixNano(), oct.End.UnixNano()-1)
	}
	written := map[string]activity.Rollup{}
	for _, c := range e.Chunks(dirty) {
		for _, r := range e.ChunkFigures(dirty, c).Rollups {
			if r.Period.Kind == activity.Day && r.Line == "L1" {
				written[r.Period.Name()] = r
			}
		}
	}
	days := breakdownOf(t, srv, "/api/v1/months/2026-10/days?line=L1")
	if len(written) != len(days.Periods) {
		t.Fatalf("the engine writes %d days of L1, the API has %d", len(written), len(days.Periods))
	}
	for _, p := range days.Periods {
		w, ok := written[p.Period]
		if !ok {
			t.Fatalf("day %s not written", p.Period)
		}
		wo := RollupOEE(w)
		if (wo == nil) != (p.OEE == nil) || wo != nil && (wo.Good != p.OEE.Good || wo.Scrap != p.OEE.Scrap ||
			(wo.OEE == nil) != (p.OEE.OEE == nil) || wo.OEE != nil && *wo.OEE != *p.OEE.OEE) {
			t.Errorf("%s: API oee %+v, written %+v", p.Period, p.OEE, wo)
		}
		if p.RunHours != w.RunSeconds()/3600 {
			t.Errorf("%s: API run hours %v, written %v", p.Period, p.RunHours, w.RunSeconds()/3600)
		}
	}
	var mj MonthJSON
	code, body := get(t, srv, "GET", "/api/v1/months/2026-10")
	if err := json.Unmarshal([]byte(body), &mj); code != 200 || err != nil {
		t.Fatalf("month: %d %v", code, err)
	}
	month := mj.Lines[0]
	var good, scrap, kwh, waste, calendar float64
	var loss LossJSON
	state := map[string]float64{}
	for _, p := range days.Periods {
		good += p.OEE.Good
		scrap += p.OEE.Scrap
		if l := p.OEE.LossHours; l != nil {
			loss.Availability += l.Availability
			loss.Performance += l.Performance
			loss.Quality += l.Quality
			loss.Productive += l.Productive
		}
		kwh += p.Energy.KWh
		waste += p.Energy.WasteKWh
		calendar += p.CalendarHours
		for s, h := range p.StateHours {
			state[s] += h
		}
	}
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("days' %s add up to %v, the month's is %v", what, got, want)
		}
	}
	near("calendar hours", calendar, 745)
	near("good parts", good, month.OEE.Good)
	near("scrap", scrap, month.OEE.Scrap)
	near("availability loss", loss.Availability, month.OEE.LossHours.Availability)
	near("performance loss", loss.Performance, month.OEE.LossHours.Performance)
	near("quality loss", loss.Quality, month.OEE.LossHours.Quality)
	near("productive hours", loss.Productive, month.OEE.LossHours.Productive)
	near("kWh", kwh, month.Energy.KWh)
	near("waste kWh", waste, month.Energy.WasteKWh)
	near("run hours", state["running"], month.RunHours)
	near("unknown hours", state["unknown"], 2*745-month.RunHours-state["idle"])
	near("the month's OEE", loss.Productive/(loss.Availability+loss.Performance+loss.Quality+loss.Productive), *month.OEE.OEE)
}

// Bad parameters are answered 400, naming them.
func TestBreakdownBadParameters(t *testing.T) {
	e, loc := periodsEngine(t)
	srv := httptest.NewServer(New(e, loc, "s", nil))
	defer srv.Close()
	for path, want := range map[string]string{
		"/api/v1/months/2026-13/days":                      `month "2026-13"`,
		"/api/v1/months/oct/shifts":                        `month "oct"`,
		"/api/v1/days/2026-02-30/hours":                    `day "2026-02-30"`,
		"/api/v1/days/2026-10-25/shifts?lines=L1":          `unknown parameter "lines"`,
		"/api/v1/months/2026-10/days?equipment=M1":         `equipment "M1": needs line`,
		"/api/v1/months/2026-10/days?line=L9":              `line "L9": no such line`,
		"/api/v1/months/2026-10/days?line=L1&equipment=X1": `equipment "X1": no such equipment on line L1`,
		"/api/v1/months/2026-10/days?line=L1&line=L2":      `line: want one`,
		"/api/v1/months/2026-10/days?line=":                `line: want one`,
	} {
		code, body := get(t, srv, "GET", path)
		if code != 400 || !strings.Contains(body, want) {
			t.Errorf("%s: %d %q, want 400 naming %s", path, code, body, want)
		}
	}
}
