package plant

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// refShifts lists the boundaries of a line's shift instances and local days
// between a and b, and tells whether an instant is inside a shift, from the
// configuration alone (local wall-clock times, instances belong to the day
// they start on, no weekend instances unless the line works weekends).
type refShifts struct {
	loc     *time.Location
	shifts  []Shift
	weekend bool
}

func (r refShifts) instances(day time.Time) [][2]time.Time {
	if !r.weekend && (day.Weekday() == time.Saturday || day.Weekday() == time.Sunday) {
		return nil
	}
	var out [][2]time.Time
	for _, s := range r.shifts {
		sh, sm := hhmm(s.Start)
		eh, em := hhmm(s.End)
		ed := day.Day()
		if eh*60+em <= sh*60+sm {
			ed++
		}
		out = append(out, [2]time.Time{
			time.Date(day.Year(), day.Month(), day.Day(), sh, sm, 0, 0, r.loc),
			time.Date(day.Year(), day.Month(), ed, eh, em, 0, 0, r.loc),
		})
	}
	return out
}

func (r refShifts) inShift(t time.Time) bool {
	l := t.In(r.loc)
	for back := 0; back <= 1; back++ {
		day := time.Date(l.Year(), l.Month(), l.Day()-back, 0, 0, 0, 0, r.loc)
		for _, in := range r.instances(day) {
			if !in[0].After(t) && in[1].After(t) {
				return true
			}
		}
	}
	return false
}

// bounds returns every local midnight and shift instance boundary in [a-1d, b+1d], sorted.
func (r refShifts) bounds(a, b time.Time) []time.Time {
	var out []time.Time
	la := a.In(r.loc)
	for day := time.Date(la.Year(), la.Month(), la.Day()-1, 0, 0, 0, 0, r.loc); !day.After(b.Add(24 * time.Hour)); day = time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, r.loc) {
		out = append(out, day)
		for _, in := range r.instances(day) {
			out = append(out, in[0], in[1])
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	return out
}

func hhmm(s string) (h, m int) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		panic(err)
	}
	return t.Hour(), t.Minute()
}

// refStates derives every machine's time in each state per local day from
// the event stream, the configured shifts and the planned stops.
func refStates(t *testing.T, c Config, evs []Event, stops map[string][][2]time.Time, end time.Time) map[string]map[string]StateMs {
	t.Helper()
	loc, _ := time.LoadLocation(c.Timezone)
	shiftsByName := map[string]Shift{}
	for _, s := range c.Shifts {
		shiftsByName[s.Name] = s
	}
	refs := map[string]refShifts{}
	for _, l := range c.Lines {
		r := refShifts{loc: loc, weekend: l.Weekend}
		for _, n := range l.Shifts {
			r.shifts = append(r.shifts, shiftsByName[n])
		}
		refs[l.Name] = r
	}
	type cur struct {
		st    string
		since time.Time
	}
	states := map[string]*cur{}
	out := map[string]map[string]StateMs{}
	book := func(line, k string, st string, a, b time.Time) {
		r := refs[line]
		cuts := []time.Time{a, b}
		for _, x := range r.bounds(a, b) {
			if x.After(a) && x.Before(b) {
				cuts = append(cuts, x)
			}
		}
		for _, w := range stops[line] {
			for _, x := range w {
				if x.After(a) && x.Before(b) {
					cuts = append(cuts, x)
				}
			}
		}
		sort.Slice(cuts, func(i, j int) bool { return cuts[i].Before(cuts[j]) })
		for i := 0; i+1 < len(cuts); i++ {
			x, y := cuts[i], cuts[i+1]
			if !y.After(x) {
				continue
			}
			s := st
			inStop := false
			for _, w := range stops[line] {
				if !w[0].After(x) && w[1].After(x) {
					inStop = true
				}
			}
			switch {
			case st == Running:
			case !r.inShift(x):
				s = NoShiftState
			case inStop:
				s = PlannedStopState
			}
			day := x.In(loc).Format("2006-01-02")
			if out[k] == nil {
				out[k] = map[string]StateMs{}
			}
			v := out[k][day]
			v.add(s, y.Sub(x).Milliseconds())
			out[k][day] = v
		}
	}
	for _, e := range evs {
		if e.Name != signal.State {
			continue
		}
		k := e.Line + "/" + e.Equipment
		if s := states[k]; s != nil {
			book(e.Line, k, s.st, s.since, e.Time)
		}
		states[k] = &cur{st: e.Value.Str, since: e.Time}
	}
	for k, s := range states {
		book(strings.Split(k, "/")[0], k, s.st, s.since, end)
	}
	return out
}

// Every day and month of every machine adds up to its calendar length, DST
// days included, with the time outside the machine's span as unknown; run
// time equals running time.
func TestStatesAddUp(t *testing.T) {
	c := testConfig()
	loc, _ := time.LoadLocation(c.Timezone)
	for _, tc := range []struct {
		name        string
		start, live time.Time
		end         time.Time
		dstDay      string
		dstMs       int64
		months      int
	}{
		{"autumn", time.Date(2026, 10, 20, 9, 30, 0, 5e6, loc), time.Date(2026, 10, 30, 7, 0, 0, 0, loc), time.Date(2026, 11, 2, 13, 0, 0, 0, loc), "2026-10-25", 25 * 3600e3, 2},
		{"spring", time.Date(2027, 3, 26, 0, 0, 0, 0, loc), time.Date(2027, 3, 27, 0, 0, 0, 0, loc), time.Date(2027, 3, 31, 0, 0, 0, 0, loc), "2027-03-28", 23 * 3600e3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, tr := collect(t, c, tc.start, tc.live, tc.end)
			if len(tr.Equipment) != 9 {
				t.Fatalf("%d machines", len(tr.Equipment))
			}
			for _, e := range tr.Equipment {
				k := e.Line + "/" + e.Equipment
				if len(e.Months) != tc.months {
					t.Errorf("%s: %d months, want %d", k, len(e.Months), tc.months)
				}
				for d, v := range e.Days {
					want := dayLength(d, loc)
					if v.States.Total() != want {
						t.Errorf("%s %s: states add up to %d ms, want %d", k, d, v.States.Total(), want)
					}
					if d == tc.dstDay && want != tc.dstMs {
						t.Errorf("%s: %d ms, want %d", d, want, tc.dstMs)
					}
					dayStart, _ := time.ParseInLocation("2006-01-02", d, loc)
					dayEnd := time.Date(dayStart.Year(), dayStart.Month(), dayStart.Day()+1, 0, 0, 0, 0, loc)
					covered := minTime(dayEnd, e.End).Sub(maxTime(dayStart, e.Start)).Milliseconds()
					if v.States.Unknown != want-covered {
						t.Errorf("%s %s: unknown %d ms, want %d (outside [%v, %v))", k, d, v.States.Unknown, want-covered, e.Start, e.End)
					}
					if v.RunMs != v.States.Running {
						t.Errorf("%s %s: run %d ms, running %d ms", k, d, v.RunMs, v.States.Running)
					}
					if v.States.PlannedStop != 0 {
						t.Errorf("%s %s: planned stop %d ms without planned stops", k, d, v.States.PlannedStop)
					}
				}
				dst, _ := time.ParseInLocation("2006-01-02", tc.dstDay, loc)
				if _, ok := e.Days[tc.dstDay]; !ok && e.Start.Before(dst) {
					t.Errorf("%s: DST day %s missing", k, tc.dstDay)
				}
				for mo, v := range e.Months {
					var sum StateMs
					for d, dv := range e.Days {
						if strings.HasPrefix(d, mo) {
							sum.Running += dv.States.Running
							sum.Idle += dv.States.Idle
							sum.Setup += dv.States.Setup
							sum.Down += dv.States.Down
							sum.NoShift += dv.States.NoShift
						}
					}
					want := monthLength(mo, loc)
					if v.States.Total() != want {
						t.Errorf("%s %s: states add up to %d ms, want %d", k, mo, v.States.Total(), want)
					}
					sum.Unknown, sum.PlannedStop = v.States.Unknown, v.States.PlannedStop
					if sum != v.States {
						t.Errorf("%s %s: month %+v, sum of its days %+v", k, mo, v.States, sum)
					}
				}
			}
		})
	}
	if got := monthLength("2026-10", loc); got != 745*3600e3 {
		t.Errorf("October 2026 is %d ms, want 745 h", got)
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// The states in the truth equal those derived from the event stream and the
// configured shifts alone, with a breakdown repair outside shifts counted as
// no_shift, faults (one reaching past a shift end) and planned stops (one
// reaching past a shift end) included.
func TestStatesMatchEvents(t *testing.T) {
	c := testConfig()
	c.Lines[0].BreakdownsPerDay = ptr(3.0)
	c.Lines[0].MeanRepair = 5 * time.Hour
	loc, _ := time.LoadLocation(c.Timezone)
	start := time.Date(2026, 10, 19, 4, 0, 0, 0, loc)
	live := time.Date(2026, 10, 28, 12, 0, 0, 0, loc) // a Wednesday
	end := time.Date(2026, 10, 29, 23, 0, 0, 0, loc)
	c.Faults = []Fault{
		{Line: "L1", Machine: 2, At: time.Hour, Duration: 20 * time.Minute, State: Down},
		{Line: "L1", Machine: 3, At: 9*time.Hour + 30*time.Minute, Duration: 2 * time.Hour, State: Down}, // past the late shift's end
		{Line: "L3", Machine: 1, At: 30 * time.Minute, Duration: 45 * time.Minute, State: Idle},
		{Line: "L2", Machine: 1, At: 2 * time.Hour, Duration: 10 * time.Minute, State: Down}, // inside the planned stop below
	}
	c.PlannedStops = []PlannedStop{
		{Line: "L2", At: 90 * time.Minute, Duration: time.Hour},
		{Line: "L3", At: 25 * time.Hour, Duration: 2 * time.Hour}, // 13:00-15:00, the early shift ends at 14:00
	}
	evs, tr := collect(t, c, start, live, end)
	stops := map[string][][2]time.Time{}
	for _, s := range c.PlannedStops {
		stops[s.Line] = append(stops[s.Line], [2]time.Time{live.Add(s.At), live.Add(s.At + s.Duration)})
	}
	ref := refStates(t, c, evs, stops, end)
	var down, noShiftDown, planned int64
	for _, e := range tr.Equipment {
		k := e.Line + "/" + e.Equipment
		for d, v := range e.Days {
			want := ref[k][d]
			want.Unknown = v.States.Unknown
			if v.States != want {
				t.Errorf("%s %s: truth %+v, events %+v", k, d, v.States, want)
			}
			down += v.States.Down
			planned += v.States.PlannedStop
		}
	}
	// A breakdown whose repair went on past the shift: down in the shift,
	// no_shift after it.
	for _, e := range evs {
		if e.Name == signal.State && e.Value.Str == Down && e.Line == "L1" {
			r := refShifts{loc: loc, shifts: c.Shifts[:2]}
			// the next state event of the machine
			for _, f := range evs {
				if f.Line == e.Line && f.Equipment == e.Equipment && f.Name == signal.State && f.Time.After(e.Time) {
					if !r.inShift(f.Time) && f.Time.Sub(e.Time) > time.Minute {
						noShiftDown++
					}
					break
				}
			}
		}
	}
	if down == 0 || noShiftDown == 0 {
		t.Errorf("down %d ms, %d repairs ending outside shifts; want both", down, noShiftDown)
	}
	// L2 (3 machines) is stopped for an hour in a shift; L3 (2 machines)
	// for the hour of its stop inside the early shift.
	if want := int64(3*3600e3 + 2*3600e3); planned != want {
		t.Errorf("planned_stop %d ms, want %d", planned, want)
	}
	if len(tr.Faults) != 4 || len(tr.PlannedStops) != 2 {
		t.Fatalf("truth lists %d faults and %d planned stops, want 4 and 2", len(tr.Faults), len(tr.PlannedStops))
	}
}

// An injected fault holds the reported state for its duration (run false,
// the counter still), then the machine resumes; planned stops hold every
// machine of the line in state planned_stop. Both apply to OPC UA lines too, and the truth
// lists them with the shift on duty.
func TestFaultsAndPlannedStops(t *testing.T) {
	c := testConfig()
	c.Lines[0].MeanRun, c.Lines[0].MeanIdle = 10*time.Minute, time.Minute
	loc, _ := time.LoadLocation(c.Timezone)
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, loc)
	live := time.Date(2026, 11, 4, 9, 0, 0, 0, loc) // a Wednesday, in the early shift
	end := live.Add(24 * time.Hour)
	c.Faults = []Fault{
		{Line: "L1", Machine: 1, At: 10 * time.Minute, Duration: 45 * time.Minute, State: Down},
		{Line: "L1", Machine: 4, At: 3 * time.Hour, Duration: 30 * time.Minute, State: Idle},
		{Line: "L3", Machine: 2, At: 0, Duration: 20 * time.Minute, State: Down},
		{Line: "L1", Machine: 2, At: 14 * time.Hour, Duration: time.Hour, State: Down}, // 23:00: outside shifts
		{Line: "L1", Machine: 3, At: 30 * time.Hour, Duration: time.Hour, State: Down}, // after the end
	}
	c.PlannedStops = []PlannedStop{{Line: "L1", At: 5 * time.Hour, Duration: 15 * time.Minute}}
	evs, tr := collect(t, c, start, live, end)
	type span struct {
		line, eq, state string
		from, to        time.Time
	}
	spans := []span{
		{"L1", "M01", Down, live.Add(10 * time.Minute), live.Add(55 * time.Minute)},
		{"L1", "M04", Idle, live.Add(3 * time.Hour), live.Add(3*time.Hour + 30*time.Minute)},
		{"L3", "M02", Down, live, live.Add(20 * time.Minute)},
		{"L1", "M02", Down, live.Add(14 * time.Hour), live.Add(15 * time.Hour)},
	}
	for _, m := range []string{"M01", "M02", "M03", "M04"} {
		spans = append(spans, span{"L1", m, PlannedStopState, live.Add(5 * time.Hour), live.Add(5*time.Hour + 15*time.Minute)})
	}
	for _, s := range spans {
		var st, count string
		for _, e := range evs {
			if e.Line != s.line || e.Equipment != s.eq || e.Time.After(s.to) {
				continue
			}
			inside := !e.Time.Before(s.from) && e.Time.Before(s.to)
			switch e.Name {
			case signal.State:
				if !e.Time.After(s.from) || inside {
					st = e.Value.Str
					if inside && e.Time.After(s.from) {
						t.Errorf("%s/%s: state %s at %v inside the injected stretch", s.line, s.eq, st, e.Time)
					}
				}
			case signal.Run:
				if inside && e.Value.Bool {
					t.Errorf("%s/%s runs at %v inside the injected stretch", s.line, s.eq, e.Time)
				}
			case signal.Count:
				v := e.Value.String()
				if inside && e.Time.After(s.from) && v != count {
					t.Errorf("%s/%s: counter moved from %s to %s at %v while stopped", s.line, s.eq, count, v, e.Time)
				}
				if !e.Time.After(s.from) || inside {
					count = v
				}
			}
		}
		if st != s.state {
			t.Errorf("%s/%s reports %q from %v, want %q", s.line, s.eq, st, s.from, s.state)
		}
	}
	// The machine resumes: L1/M01 runs again within its shift after the fault.
	ranAfter := false
	for _, e := range evs {
		if e.Line == "L1" && e.Equipment == "M01" && e.Name == signal.Run && e.Value.Bool && !e.Time.Before(live.Add(55*time.Minute)) && e.Time.Before(live.Add(5*time.Hour)) {
			ranAfter = true
		}
	}
	if !ranAfter {
		t.Error("L1/M01 never ran again after its fault")
	}
	want := []FaultTruth{
		{Line: "L3", Equipment: "M02", State: Down, Start: live.UTC(), End: live.Add(20 * time.Minute).UTC(), Shift: "early"},
		{Line: "L1", Equipment: "M01", State: Down, Start: live.Add(10 * time.Minute).UTC(), End: live.Add(55 * time.Minute).UTC(), Shift: "early"},
		{Line: "L1", Equipment: "M04", State: Idle, Start: live.Add(3 * time.Hour).UTC(), End: live.Add(210 * time.Minute).UTC(), Shift: "early"},
		{Line: "L1", Equipment: "M02", State: Down, Start: live.Add(14 * time.Hour).UTC(), End: live.Add(15 * time.Hour).UTC(), Shift: ""},
	}
	if len(tr.Faults) != len(want) {
		t.Fatalf("faults %+v, want %+v", tr.Faults, want)
	}
	for i := range want {
		if tr.Faults[i] != want[i] {
			t.Errorf("fault %d: %+v, want %+v", i, tr.Faults[i], want[i])
		}
	}
	if len(tr.PlannedStops) != 1 || tr.PlannedStops[0] != (PlannedStopTruth{Line: "L1", Start: live.Add(5 * time.Hour).UTC(), End: live.Add(315 * time.Minute).UTC()}) {
		t.Errorf("planned stops %+v", tr.PlannedStops)
	}
	// In the truth: the planned stop is planned_stop on every L1 machine
	// (a 15-minute stop in the late shift); the fault at 23:00 is no_shift.
	day := live.Format("2006-01-02")
	for _, e := range tr.Equipment {
		if e.Line != "L1" {
			continue
		}
		if got := e.Days[day].States.PlannedStop; got != 15*60e3 {
			t.Errorf("L1/%s: planned_stop %d ms on %s, want 15 min", e.Equipment, got, day)
		}
		if e.Equipment == "M01" && e.Days[day].States.Down < 45*60e3 {
			t.Errorf("L1/M01: down %d ms on %s, want at least the 45 min fault", e.Days[day].States.Down, day)
		}
	}
}

// The faults and planned stops are checked with the rest of the plant, each
// problem naming its key.
func TestValidateInjected(t *testing.T) {
	c := testConfig()
	c.Faults = []Fault{
		{Line: "L9", Machine: 1, At: time.Second, Duration: time.Second, State: Down},
		{Line: "L1", Machine: 5, At: time.Second, Duration: time.Second, State: Down},
		{Line: "L1", Machine: 1, At: -time.Second, Duration: 0, State: "broken"},
		{Line: "L2", Machine: 1, At: 10 * time.Second, Duration: 10 * time.Second, State: Idle},
		{Line: "L2", Machine: 1, At: 15 * time.Second, Duration: 10 * time.Second, State: Down},
	}
	c.PlannedStops = []PlannedStop{
		{Line: "", At: time.Second, Duration: time.Second},
		{Line: "L1", At: time.Second, Duration: 1500 * time.Microsecond},
	}
	err := c.Validate()
	for _, key := range []string{"faults[0].line", "faults[1].machine", "faults[2].at", "faults[2].duration", "faults[2].state",
		"faults[4]: overlaps faults[3]", "planned_stops[0].line", "planned_stops[1].duration"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v does not name %s", err, key)
		}
	}
	c = testConfig()
	c.Faults = []Fault{{Line: "L3", Machine: 2, At: 0, Duration: time.Millisecond, State: Idle}}
	c.PlannedStops = []PlannedStop{{Line: "L3", At: 0, Duration: time.Hour}}
	if err := c.Validate(); err != nil {
		t.Errorf("valid faults rejected: %v", err)
	}
}
