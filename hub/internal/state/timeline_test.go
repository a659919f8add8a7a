package state

import (
	"math/rand"
	"reflect"
	"testing"

	"github.com/floorpulse/floorpulse/hub/internal/calendar"
)

// totals sums segment lengths per state.
func totals(segs []Seg) [NumStates]int64 {
	var out [NumStates]int64
	for _, s := range segs {
		out[s.State] += s.End - s.Start
	}
	return out
}

func TestSegmentsFromRun(t *testing.T) {
	var tl Timeline
	for _, p := range []Point{{10, True}, {20, False}, {30, True}} {
		tl.Observe(p.T)
		tl.SetRun(p.T, p.V)
	}
	tl.Observe(50)
	got := tl.Segments(0, 100, nil)
	want := []Seg{{0, 10, Unknown}, {10, 20, Running}, {20, 30, Idle}, {30, 50, Running}, {50, 100, Unknown}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	// Pieces add up to the whole.
	var sum [NumStates]int64
	for a := int64(0); a < 100; a += 7 {
		p := totals(tl.Segments(a, min(a+7, 100), nil))
		for i := range sum {
			sum[i] += p[i]
		}
	}
	if sum != totals(got) {
		t.Fatalf("pieces %v, whole %v", sum, totals(got))
	}
}

func TestSilenceBeyondTimeoutIsUnknown(t *testing.T) {
	tl := Timeline{Timeout: 10}
	tl.Observe(0)
	tl.SetRun(0, True)
	tl.Observe(100) // 100 after the last word: unknown from 10 to 100
	tl.SetRun(100, True)
	tl.Observe(105)
	got := totals(tl.Segments(0, 105, nil))
	if got[Running] != 15 || got[Unknown] != 90 {
		t.Fatalf("got %v", got)
	}
	// A late observation inside the silence splits it: 0..10 run, 50..60 run, 100..105 run.
	tl.Observe(50)
	got = totals(tl.Segments(0, 105, nil))
	if got[Running] != 25 || got[Unknown] != 80 {
		t.Fatalf("after split: %v, silences %v", got, tl.Silences())
	}
	// Observations closer than the timeout remove the silence altogether.
	for x := int64(5); x < 100; x += 5 {
		tl.Observe(x)
	}
	if len(tl.Silences()) != 0 {
		t.Fatalf("silences left: %v", tl.Silences())
	}
}

func TestResolutionRules(t *testing.T) {
	for _, c := range []struct {
		name     string
		run      int8
		state    State
		hasState bool
		alarm    int8
		kind     calendar.Kind
		want     State
	}{
		{"run", True, Unknown, false, -2, calendar.Shift, Running},
		{"run wins over no shift", True, Idle, true, True, calendar.NoShift, Running},
		{"stop alone is idle", False, Unknown, false, -2, calendar.Shift, Idle},
		{"state setup", False, Setup, true, -2, calendar.Shift, Setup},
		{"state running without run", -2, Running, true, -2, calendar.Shift, Running},
		{"run false beats state running", False, Running, true, -2, calendar.Shift, Idle},
		{"alarm while idle is down", False, Unknown, false, True, calendar.Shift, Down},
		{"alarm while setup stays setup", False, Setup, true, True, calendar.Shift, Setup},
		{"bad run, no state", Bad, Unknown, false, -2, calendar.Shift, Unknown},
		{"bad run, good state down", Bad, Down, true, -2, calendar.Shift, Down},
		{"down outside shift", False, Down, true, -2, calendar.NoShift, NoShift},
		{"idle in planned stop", False, Idle, true, -2, calendar.PlannedStop, PlannedStop},
		{"plc planned stop", False, PlannedStop, true, -2, calendar.Shift, PlannedStop},
		{"nothing", -2, Unknown, false, -2, calendar.Shift, Unknown},
		{"only an alarm", -2, Unknown, false, True, calendar.Shift, Unknown},
	} {
		if got := resolve(c.run, c.state, c.hasState, c.alarm, c.kind); got != c.want {
			t.Errorf("%s: got %v want %v", c.name, got, c.want)
		}
	}
}

func TestGapsAndCalendar(t *testing.T) {
	var tl Timeline
	tl.Observe(0)
	tl.SetRun(0, False)
	tl.SetRun(40, True)
	tl.Observe(100)
	tl.AddGap(Interval{50, 60})
	cal := []calendar.Span{{Start: 0, End: 30, Kind: calendar.NoShift}, {Start: 30, End: 80, Kind: calendar.Shift}, {Start: 80, End: 100, Kind: calendar.PlannedStop}}
	got := tl.Segments(0, 100, cal)
	want := []Seg{{0, 30, NoShift}, {30, 40, Idle}, {40, 50, Running}, {50, 60, Unknown}, {60, 100, Running}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

// Any arrival order and any number of duplicates give the same segments.
func TestOrderAndDuplicatesDoNotMatter(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	type obs struct {
		t    int64
		kind int
		v    int8
		op   string
	}
	var all []obs
	for i := 0; i < 600; i++ {
		o := obs{t: int64(rng.Intn(10000)), kind: rng.Intn(5), v: int8(rng.Intn(3) - 1)}
		o.op = []string{"", "a", "b", "a,b"}[rng.Intn(4)]
		all = append(all, o)
	}
	build := func(list []obs) *Timeline {
		tl := &Timeline{Timeout: 60}
		for _, o := range list {
			tl.Observe(o.t)
			switch o.kind {
			case 0:
				tl.SetRun(o.t, o.v)
			case 1:
				tl.SetState(o.t, State(o.v+2))
			case 2:
				tl.SetAlarm(o.t, o.v, o.op)
			case 3:
				tl.AddOp(OpEvent{T: o.t, Kind: uint8(o.v + 1), Op: o.op})
			case 4:
				tl.AddGap(Interval{o.t, o.t + int64(o.v+2)*7})
			}
		}
		return tl
	}
	ref := build(all)
	refSegs := ref.Segments(-10, 10010, nil)
	refOps := ref.OpSegments(-10, 10010)
	refAlarms := ref.AlarmSegments(-10, 10010)
	for trial := 0; trial < 20; trial++ {
		shuffled := append(append([]obs(nil), all...), all[:150]...)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		tl := build(shuffled)
		if !reflect.DeepEqual(tl.Segments(-10, 10010, nil), refSegs) || !reflect.DeepEqual(tl.OpSegments(-10, 10010), refOps) || !reflect.DeepEqual(tl.AlarmSegments(-10, 10010), refAlarms) {
			t.Fatalf("trial %d: different result", trial)
		}
		if !reflect.DeepEqual(tl.Silences(), ref.Silences()) {
			t.Fatalf("trial %d: silences %v want %v", trial, tl.Silences(), ref.Silences())
		}
	}
	// The stored form restores the same timeline.
	r := Restore(60, Saved{First: -1, Horizon: -1, Run: ref.Run(), State: ref.States(), Alarm: ref.Alarms(), Ops: ref.Ops(), Silences: ref.Silences(), Gaps: ref.Gaps()})
	first, horizon, _ := ref.Span()
	r.first, r.horizon = first, horizon
	if !reflect.DeepEqual(r.Segments(-10, 10010, nil), refSegs) || !reflect.DeepEqual(r.AlarmSegments(-10, 10010), refAlarms) {
		t.Fatal("restored timeline differs")
	}
}

func TestOpSegments(t *testing.T) {
	var tl Timeline
	tl.AddOp(OpEvent{T: 10, Kind: OpSet, Op: NormalizeOps(" b, a ,a")})
	tl.AddOp(OpEvent{T: 20, Kind: OpLogout, Op: "a"})
	tl.AddOp(OpEvent{T: 30, Kind: OpLogin, Op: "c"})
	tl.AddOp(OpEvent{T: 40, Kind: OpSet, Op: ""})
	got := tl.OpSegments(0, 50)
	want := []OpSeg{{10, 20, []string{"a", "b"}}, {20, 30, []string{"b"}}, {30, 40, []string{"b", "c"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
}

func BenchmarkSetRunInOrder(b *testing.B) {
	var tl Timeline
	for i := 0; i < b.N; i++ {
		tl.Observe(int64(i))
		tl.SetRun(int64(i), int8(i%2))
	}
}

func TestIdleRunning(t *testing.T) {
	var tl Timeline
	tl.Observe(0)
	tl.SetRun(0, True)
	// Parts at 0..30 every 5, then none until 80, then every 5 to 100.
	for x := int64(0); x <= 30; x += 5 {
		tl.SetCount(x, float64(x))
	}
	for x := int64(80); x <= 100; x += 5 {
		tl.SetCount(x, float64(x))
	}
	tl.Observe(100)
	if _, ok := (&Timeline{}).IdleRunning(0, 100, 10); ok {
		t.Fatal("no counter: not applicable")
	}
	// 30..80 is one piece of 50 without an increase: idle running.
	if ns, ok := tl.IdleRunning(0, 100, 10); !ok || ns != 50 {
		t.Fatalf("idle running %d %v", ns, ok)
	}
	// Judged whole from a narrower window.
	if ns, _ := tl.IdleRunning(70, 90, 10); ns != 10 {
		t.Fatalf("window 70..90: %d", ns)
	}
	// A counter reset is not an increase.
	tl.SetCount(50, 0)
	if ns, _ := tl.IdleRunning(0, 100, 10); ns != 50 {
		t.Fatalf("after reset: %d", ns)
	}
}

// Changes are the instants where the state changes, and the first
// observation even when its state is unknown; a range cut anywhere gives
// the same instants, and none at a cut where the state goes on.
func TestChangesIndependentOfCuts(t *testing.T) {
	var tl Timeline
	for _, p := range []Point{{10, Bad}, {20, True}, {25, True}, {30, False}, {40, False}, {45, True}} {
		tl.Observe(p.T)
		tl.SetRun(p.T, p.V)
	}
	tl.Observe(60)
	want := []Seg{{10, 20, Unknown}, {20, 30, Running}, {30, 45, Idle}, {45, 60, Running}, {60, 100, Unknown}}
	if got := tl.Changes(0, 100, nil); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	starts := func(segs []Seg) []int64 {
		var out []int64
		for _, s := range segs {
			out = append(out, s.Start)
		}
		return out
	}
	for step := int64(1); step <= 13; step++ {
		var got []Seg
		for a := int64(0); a < 100; a += step {
			got = append(got, tl.Changes(a, min(a+step, 100), nil)...)
		}
		if !reflect.DeepEqual(starts(got), starts(want)) {
			t.Errorf("pieces of %d: changes at %v, want %v", step, starts(got), starts(want))
		}
	}
	var never Timeline
	if got := never.Changes(0, 100, nil); got != nil {
		t.Errorf("no observation: %v", got)
	}
}

func TestAlarmSegments(t *testing.T) {
	var tl Timeline
	tl.SetAlarm(10, True, "E2")
	tl.SetAlarm(10, True, "E1") // same instant: the greater code wins, whatever the order
	tl.SetAlarm(20, True, "E2") // same bucket: no cut
	tl.SetAlarm(30, False, "E9")
	tl.SetAlarm(40, Bad, "")
	tl.SetAlarm(50, True, "") // stored before codes were kept
	tl.SetAlarm(60, True, "7")
	got := tl.AlarmSegments(0, 70)
	want := []AlarmSeg{{0, 10, NoAlarm}, {10, 30, "E2"}, {30, 40, NoAlarm}, {40, 60, UnknownAlarm}, {60, 70, "7"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	if got := tl.Alarms()[2]; got.Code != "" {
		t.Fatalf("a cleared alarm keeps code %q", got.Code)
	}
	if got := tl.AlarmSegments(15, 35); !reflect.DeepEqual(got, []AlarmSeg{{15, 30, "E2"}, {30, 35, NoAlarm}}) {
		t.Fatalf("window: %v", got)
	}
}
