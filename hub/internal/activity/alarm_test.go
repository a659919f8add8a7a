package activity

import (
	"reflect"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// October 2026 in Berlin has 745 hours (clocks go back on the 25th); the
// expected breakdown is worked out by hand in the comments.
func TestDownByAlarmAcrossDST(t *testing.T) {
	loc := berlin(t)
	at := func(d, h int, zone string) int64 {
		off := map[string]int{"CEST": 2, "CET": 1}[zone]
		return time.Date(2026, 10, d, h-off, 0, 0, 0, time.UTC).UnixNano()
	}
	tl := &state.Timeline{}
	obs := func(t int64, f func()) { tl.Observe(t); f() }
	// Down with E1 since the evening before the month: no stop in October.
	obs(at(0, 23, "CEST"), func() { tl.SetRun(at(0, 23, "CEST"), state.False); tl.SetState(at(0, 23, "CEST"), state.Down) })
	obs(at(0, 23, "CEST"), func() { tl.SetAlarm(at(0, 23, "CEST"), state.True, "E1") })
	obs(at(1, 1, "CEST"), func() { tl.SetAlarm(at(1, 1, "CEST"), state.True, "E2") }) // E1 00-01: 1 h
	obs(at(1, 2, "CEST"), func() { tl.SetRun(at(1, 2, "CEST"), state.True) })         // E2 01-02: 1 h
	obs(at(1, 3, "CEST"), func() { tl.SetAlarm(at(1, 3, "CEST"), state.False, "") })
	// 25th: down without an alarm from 01:00 CEST to 04:00 CET: 4 h, a stop.
	obs(at(25, 1, "CEST"), func() { tl.SetRun(at(25, 1, "CEST"), state.False); tl.SetState(at(25, 1, "CEST"), state.Down) })
	obs(at(25, 4, "CET"), func() { tl.SetAlarm(at(25, 4, "CET"), state.True, "E1") }) // E1 04-05 down
	obs(at(25, 5, "CET"), func() { tl.SetState(at(25, 5, "CET"), state.Idle) })       // idle with E1 is down: 05-06
	obs(at(25, 6, "CET"), func() { tl.SetState(at(25, 6, "CET"), state.Setup) })      // setup with E1: not down
	// Down with code 7 from the 25th 07:00 CET to the month's end: 161 h, a stop.
	obs(at(25, 7, "CET"), func() { tl.SetState(at(25, 7, "CET"), state.Down); tl.SetAlarm(at(25, 7, "CET"), state.True, "7") })
	tl.Observe(at(32, 1, "CET"))

	m, err := ParseMonth("2026-10", loc)
	if err != nil {
		t.Fatal(err)
	}
	f := Compute(Equipment{Key: signal.Key{Site: "s", Line: "L", Equipment: "M"}, Registered: true}, tl, nil, m, 0)
	want := []AlarmDown{
		{Code: "7", Seconds: 161 * 3600, Stops: 1},
		{Code: state.NoAlarm, Seconds: 4 * 3600, Stops: 1},
		{Code: "E1", Seconds: 3 * 3600},
		{Code: "E2", Seconds: 1 * 3600},
	}
	if !reflect.DeepEqual(f.DownByAlarm, want) {
		t.Fatalf("got %+v\nwant %+v", f.DownByAlarm, want)
	}
	if f.Seconds[state.Down] != 169*3600 || f.Failures != 2 {
		t.Fatalf("down %v s, %d failures", f.Seconds[state.Down], f.Failures)
	}
	// The line sums its equipment by code.
	g := f
	g.Key.Equipment = "M2"
	g.DownByAlarm = []AlarmDown{{Code: "E2", Seconds: 10 * 3600, Stops: 2}}
	var line Rollup
	for _, r := range RollUp([]Figures{f, g}, tiers) {
		if r.Line == "L" {
			line = r
		}
	}
	wantLine := []AlarmDown{want[0], {Code: "E2", Seconds: 11 * 3600, Stops: 2}, want[1], want[2]}
	if !reflect.DeepEqual(line.DownByAlarm, wantLine) {
		t.Fatalf("line %+v\nwant %+v", line.DownByAlarm, wantLine)
	}
	if !HasAlarmCodes(want) || HasAlarmCodes([]AlarmDown{{Code: state.NoAlarm}, {Code: state.UnknownAlarm}}) {
		t.Fatal("HasAlarmCodes")
	}
}
