package plant

import (
	"slices"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// A machine reports an alarm code exactly while it reports down, one code
// of its class per down stretch, and the truth splits each month's down
// time by that code: recomputed from the events for L2 (on shift around
// the clock, so only its planned stop is not down).
func TestAlarmCodesMatchEvents(t *testing.T) {
	c := testConfig()
	c.Lines[0].BreakdownsPerDay = ptr(3.0)
	c.Lines[1].BreakdownsPerDay = ptr(4.0)
	c.Lines[1].MeanRepair = 2 * time.Hour
	loc, _ := time.LoadLocation(c.Timezone)
	start := time.Date(2026, 10, 19, 4, 0, 0, 0, loc)
	live := time.Date(2026, 10, 28, 12, 0, 0, 0, loc)
	end := time.Date(2026, 10, 29, 23, 0, 0, 0, loc)
	c.Faults = []Fault{{Line: "L2", Machine: 1, At: 4 * time.Hour, Duration: 30 * time.Minute, State: Down}}
	c.PlannedStops = []PlannedStop{{Line: "L2", At: 90 * time.Minute, Duration: time.Hour}}
	stop := [2]time.Time{live.Add(90 * time.Minute), live.Add(150 * time.Minute)}
	evs, tr := collect(t, c, start, live, end)

	type cur struct {
		st, alarm string
		since     time.Time
	}
	class := map[string]string{}
	for _, l := range c.Lines {
		class[l.Name] = l.Class
	}
	machines := map[string]*cur{}
	ref := map[string]map[string]int64{} // L2 machine -> code -> down ms
	// book adds [from, to) of a down stretch of an L2 machine, less the planned stop.
	book := func(k string, m *cur, to time.Time) {
		if m.st != Down || k[:2] != "L2" {
			return
		}
		ms := to.Sub(m.since)
		if lo, hi := maxTime(m.since, stop[0]), minTime(to, stop[1]); hi.After(lo) {
			ms -= hi.Sub(lo)
		}
		if ms <= 0 {
			return
		}
		if ref[k] == nil {
			ref[k] = map[string]int64{}
		}
		ref[k][m.alarm] += ms.Milliseconds()
	}
	stretches := 0
	for i, e := range evs {
		k := e.Line + "/" + e.Equipment
		m := machines[k]
		if m == nil {
			m = &cur{since: e.Time}
			machines[k] = m
		}
		if e.Name == signal.State || e.Name == signal.Alarm {
			book(k, m, e.Time)
			m.since = e.Time
			if e.Name == signal.State {
				if e.Value.Str == Down && m.st != Down {
					stretches++
				}
				m.st = e.Value.Str
			} else {
				if m.st == Down && m.alarm != "" && e.Value.Str != "" && e.Value.Str != m.alarm {
					t.Errorf("%s: the code changes within a down stretch at %v", k, e.Time)
				}
				m.alarm = e.Value.Str
			}
		}
		// Once every event of the instant is in, the alarm matches the state.
		if i+1 == len(evs) || !evs[i+1].Time.Equal(e.Time) {
			for mk, mm := range machines {
				if (mm.st == Down) != (mm.alarm != "") {
					t.Fatalf("%s at %v: state %q, alarm %q", mk, e.Time, mm.st, mm.alarm)
				}
				if mm.alarm != "" && !slices.Contains(alarmCodes[class[mk[:2]]], mm.alarm) && !slices.Contains(defaultAlarms, mm.alarm) {
					t.Fatalf("%s: code %q not of its class", mk, mm.alarm)
				}
			}
		}
	}
	if stretches < 10 {
		t.Fatalf("only %d down stretches", stretches)
	}
	for _, e := range tr.Equipment {
		k := e.Line + "/" + e.Equipment
		for mo, pt := range e.Months {
			var sum int64
			for _, v := range pt.DownByAlarm {
				sum += v
			}
			if sum != pt.States.Down {
				t.Errorf("%s %s: codes add up to %d ms, down %d ms", k, mo, sum, pt.States.Down)
			}
		}
		if e.Line == "L2" {
			got := e.Months["2026-10"].DownByAlarm
			want := ref[k]
			if want == nil {
				want = map[string]int64{}
			}
			if len(want) == 0 || !mapsEqual(got, want) {
				t.Errorf("%s: truth %v, events %v", k, got, want)
			}
		}
	}
}

func mapsEqual(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
