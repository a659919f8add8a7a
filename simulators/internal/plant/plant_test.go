package plant

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

func testConfig() Config {
	var c Config
	c.SetToDefault()
	c.Timezone = "Europe/Berlin"
	c.Seed = 42
	c.Shifts = []Shift{{"early", "06:00", "14:00"}, {"late", "14:00", "22:00"}, {"night", "22:00", "06:00"}}
	c.Lines = []Line{
		{Name: "L1", Source: SourceMQTT, Machines: 4, Class: "cnc", Shifts: []string{"early", "late"}, Operators: 5},
		{Name: "L2", Source: SourceMQTT, Machines: 3, Class: "press", Shifts: []string{"early", "late", "night"}, Weekend: true, Operators: 4},
		{Name: "L3", Source: SourceOPCUA, Machines: 2, Class: "mill", Shifts: []string{"early"}, Operators: 3},
	}
	return c
}

// collect runs the plant from start to end, the live part starting at live.
func collect(t *testing.T, c Config, start, live, end time.Time) ([]Event, Truth) {
	t.Helper()
	p, err := New(c, start, live)
	if err != nil {
		t.Fatal(err)
	}
	var evs []Event
	last := time.Time{}
	for p.Peek().Before(end) {
		batch := p.Next()
		for _, e := range batch {
			if e.Time.Before(last) {
				t.Fatalf("event %v before previous %v", e.Time, last)
			}
			if !e.Time.Equal(e.Time.Truncate(time.Millisecond)) {
				t.Fatalf("event time %v not in whole milliseconds", e.Time)
			}
			last = e.Time
		}
		evs = append(evs, batch...)
	}
	evs = append(evs, p.Final(end)...)
	return evs, p.Truth()
}

func TestDeterministic(t *testing.T) {
	c := testConfig()
	start := time.Date(2026, 10, 1, 3, 17, 0, 0, time.UTC)
	live := start.Add(72 * time.Hour)
	a, ta := collect(t, c, start, live, live.Add(6*time.Hour))
	b, tb := collect(t, c, start, live, live.Add(6*time.Hour))
	if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(ta, tb) {
		t.Fatal("same seed and start gave different events")
	}
	c.Seed = 43
	d, _ := collect(t, c, start, live, live.Add(6*time.Hour))
	if reflect.DeepEqual(a, d) {
		t.Fatal("another seed gave the same events")
	}
}

// recompute derives the truth from the event stream alone.
func recompute(t *testing.T, evs []Event, loc *time.Location) (eq map[string]map[string]int64, days map[string]map[string]int64, ops map[string]map[string]float64) {
	t.Helper()
	type st struct {
		run  bool
		ops  []string
		last time.Time
	}
	eq, days, ops = map[string]map[string]int64{}, map[string]map[string]int64{}, map[string]map[string]float64{}
	state := map[string]*st{}
	book := func(k string, s *st, to time.Time) {
		for a := s.last; s.run && a.Before(to); {
			l := a.In(loc)
			next := time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc)
			b := to
			if next.Before(b) {
				b = next
			}
			ms := b.Sub(a).Milliseconds()
			eq[k][l.Format("2006-01")] += ms
			days[k][l.Format("2006-01-02")] += ms
			for _, op := range s.ops {
				if ops[op] == nil {
					ops[op] = map[string]float64{}
				}
				ops[op][l.Format("2006-01")] += float64(ms) / float64(len(s.ops)) / 1000
			}
			a = b
		}
		s.last = to
	}
	for _, e := range evs {
		k := e.Line + "/" + e.Equipment
		s := state[k]
		if s == nil {
			s = &st{last: e.Time}
			state[k] = s
			eq[k], days[k] = map[string]int64{}, map[string]int64{}
		}
		switch e.Name {
		case signal.Run:
			book(k, s, e.Time)
			s.run = e.Value.Bool
		case signal.Operator:
			book(k, s, e.Time)
			s.ops = nil
			if e.Value.Str != "" {
				s.ops = strings.Split(e.Value.Str, ",")
			}
		}
	}
	return eq, days, ops
}

func TestTruthMatchesEvents(t *testing.T) {
	c := testConfig()
	start := time.Date(2026, 9, 20, 9, 0, 0, 123e6, time.UTC)
	live := time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC)
	end := live.Add(30 * time.Hour)
	evs, tr := collect(t, c, start, live, end)
	loc, _ := time.LoadLocation(c.Timezone)
	eq, days, ops := recompute(t, evs, loc)
	if len(tr.Equipment) != 9 {
		t.Fatalf("truth has %d machines, want 9", len(tr.Equipment))
	}
	var low, high int
	for _, e := range tr.Equipment {
		k := e.Line + "/" + e.Equipment
		for mo, v := range e.Months {
			if v.RunMs != eq[k][mo] {
				t.Errorf("%s %s: truth %d ms, events %d ms", k, mo, v.RunMs, eq[k][mo])
			}
		}
		for d, v := range e.Days {
			if v.RunMs != days[k][d] {
				t.Errorf("%s %s: truth %d ms, events %d ms", k, d, v.RunMs, days[k][d])
			}
		}
		if len(e.Days) < len(days[k]) {
			t.Errorf("%s: truth has %d days, events %d", k, len(e.Days), len(days[k]))
		}
		if e.Source == SourceMQTT {
			if h := float64(e.Months["2026-10"].RunMs) / 3.6e6; h < 80 {
				low++
			} else {
				high++
			}
		}
	}
	if low == 0 || high <= low {
		t.Errorf("October: %d machines under 80 h, %d over; want a few under and most over", low, high)
	}
	for _, o := range tr.Operators {
		for mo, v := range o.Months {
			if math.Abs(v.RunSeconds-ops[o.Operator][mo]) > 1e-6 {
				t.Errorf("%s %s: truth %.3f s, events %.3f s", o.Operator, mo, v.RunSeconds, ops[o.Operator][mo])
			}
		}
		for i, s := range o.Sessions {
			if !s.End.After(s.Start) || (i > 0 && s.Start.Before(o.Sessions[i-1].Start)) {
				t.Errorf("%s: bad session %+v", o.Operator, s)
			}
		}
	}
	// Every month and day that intersects [start, end) is present.
	e := tr.Equipment[0]
	for _, mo := range []string{"2026-09", "2026-10", "2026-11"} {
		if _, ok := e.Months[mo]; !ok {
			t.Errorf("month %s missing", mo)
		}
	}
	if len(e.Days) != 46 {
		t.Errorf("%d days, want 46 (2026-09-20 .. 2026-11-04)", len(e.Days))
	}
	opc := tr.Equipment[len(tr.Equipment)-1]
	if opc.Source != SourceOPCUA || !opc.Start.Equal(live) {
		t.Errorf("OPC UA machine starts %v, want the live start %v", opc.Start, live)
	}
}

func TestOperatorsVary(t *testing.T) {
	c := testConfig()
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	evs, tr := collect(t, c, start, start, start.Add(21*24*time.Hour))
	var shared, absent bool
	for _, e := range evs {
		if e.Name == signal.Operator && strings.Contains(e.Value.Str, ",") {
			shared = true
		}
	}
	// an operator covering two machines has overlapping sessions
	var double bool
	for _, o := range tr.Operators {
		for i := 1; i < len(o.Sessions); i++ {
			if o.Sessions[i].Start.Before(o.Sessions[i-1].End) {
				double = true
			}
		}
	}
	// an absent operator: some weekday without a session of theirs
	for _, o := range tr.Operators {
		if o.Operator > "op09" {
			continue // L3 (OPC UA) only starts live
		}
		worked := map[string]bool{}
		for _, s := range o.Sessions {
			worked[s.Start.Format("2006-01-02")] = true
		}
		if len(worked) < 15 {
			absent = true
		}
	}
	if !shared || !double || !absent {
		t.Errorf("shared machine %v, operator on two machines %v, absence %v; want all", shared, double, absent)
	}
	ids := map[string]bool{}
	for _, o := range tr.Operators {
		ids[o.Operator] = true
	}
	if len(ids) != 12 {
		t.Errorf("%d operators, want 12", len(ids))
	}
}

func TestDSTDay(t *testing.T) {
	c := testConfig()
	c.Lines = []Line{{Name: "L1", Source: SourceMQTT, Machines: 2, Class: "cnc", Shifts: []string{"early", "late", "night"}, Weekend: true, Operators: 2,
		MeanIdle: time.Second, MeanRun: 10 * time.Hour, MeanSetup: time.Second, BreakdownsPerDay: new(float64)}}
	loc, _ := time.LoadLocation("Europe/Berlin")
	start := time.Date(2026, 10, 24, 0, 0, 0, 0, loc)
	end := time.Date(2026, 10, 27, 0, 0, 0, 0, loc)
	_, tr := collect(t, c, start, start, end)
	for _, e := range tr.Equipment {
		d := e.Days["2026-10-25"].RunMs
		if d <= 24*3600*1000 || d > 25*3600*1000 {
			t.Errorf("%s ran %v on 2026-10-25, want more than 24 h (a 25 h day)", e.Equipment, time.Duration(d)*time.Millisecond)
		}
	}
}

func TestSplitDaysMonthEnd(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Berlin")
	a := time.Date(2026, 10, 31, 22, 0, 0, 0, loc)
	b := time.Date(2026, 11, 1, 3, 30, 0, 0, loc)
	got := map[string]int64{}
	var months []string
	splitDays(a, b, loc, func(day, month string, ms int64) {
		got[day] = ms
		months = append(months, month)
	})
	want := map[string]int64{"2026-10-31": 2 * 3600e3, "2026-11-01": 3.5 * 3600e3}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(months, []string{"2026-10", "2026-11"}) {
		t.Errorf("split %v %v, want %v", got, months, want)
	}
}

// A breakdown's repair runs on past the shift end and midnight; the machine
// is down there, and idle (not running) outside shifts otherwise.
func TestShiftBoundaries(t *testing.T) {
	c := testConfig()
	c.Lines = []Line{{Name: "L1", Source: SourceMQTT, Machines: 3, Class: "cnc", Shifts: []string{"early"}, Operators: 3,
		MeanRepair: 6 * time.Hour, BreakdownsPerDay: ptr(12.0)}}
	loc, _ := time.LoadLocation("Europe/Berlin")
	start := time.Date(2026, 10, 5, 0, 0, 0, 0, loc)
	evs, tr := collect(t, c, start, start, start.Add(14*24*time.Hour))
	downOff := false
	for _, e := range evs {
		l := e.Time.In(loc)
		h := l.Hour()*60 + l.Minute()
		inShift := h >= 6*60 && h < 14*60 && l.Weekday() != time.Saturday && l.Weekday() != time.Sunday
		if e.Name == signal.Run && e.Value.Bool && !inShift {
			t.Fatalf("%s/%s starts running at %v, outside the shift", e.Line, e.Equipment, l)
		}
		if e.Name == signal.State && e.Value.Str == Down && !inShift {
			t.Fatalf("breakdown at %v outside the shift", l)
		}
		if e.Name == signal.State && e.Value.Str == Idle && !inShift && l.Hour() != 14 {
			downOff = true // repaired outside the shift
		}
	}
	if !downOff {
		t.Error("no repair ended outside the shift")
	}
	for _, e := range tr.Equipment {
		for d, v := range e.Days {
			if v.RunMs > 8*3600e3 {
				t.Errorf("%s ran %d ms on %s, more than the 8 h shift", e.Equipment, v.RunMs, d)
			}
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestValidateNamesKeys(t *testing.T) {
	c := testConfig()
	c.Lines[0].Source = "modbus"
	c.Lines[1].Shifts = []string{"lunch"}
	c.Shifts[0].Start = "6am"
	c.Timezone = "Mars/Olympus"
	c.Lines[2].IdealCycle = 1500 * time.Microsecond
	err := c.Validate()
	for _, key := range []string{"lines[0].source", "lines[1].shifts[0]", "shifts[0].start", "timezone", "lines[2].ideal_cycle"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v does not name %s", err, key)
		}
	}
}

func TestPrintSummary(t *testing.T) {
	if !testing.Verbose() {
		t.Skip("summary only with -v")
	}
	c := testConfig()
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	evs, tr := collect(t, c, start, start.Add(31*24*time.Hour), start.Add(31*24*time.Hour))
	t.Logf("%d events", len(evs))
	for _, e := range tr.Equipment {
		var ks []string
		for k, v := range e.Months {
			ks = append(ks, fmt.Sprintf("%s=%.1fh", k, float64(v.RunMs)/3.6e6))
		}
		sort.Strings(ks)
		t.Logf("%s/%s %v", e.Line, e.Equipment, ks)
	}
	for _, o := range tr.Operators {
		t.Logf("%s sessions=%d %v", o.Operator, len(o.Sessions), o.Months)
	}
}
