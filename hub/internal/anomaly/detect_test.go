package anomaly

import (
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/calendar"
	"github.com/floorpulse/floorpulse/hub/internal/state"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

var loc = time.UTC

func at(h, m int) int64 { return time.Date(2026, 10, 6, h, m, 0, 0, loc).UnixNano() }

// plant builds a timeline with a heartbeat every minute over [from, to] and
// the given state changes.
func plant(from, to int64, changes map[int64]state.State) *state.Timeline {
	tl := &state.Timeline{Timeout: int64(10 * time.Minute)}
	for t := from; t <= to; t += int64(time.Minute) {
		tl.Observe(t)
	}
	for t, s := range changes {
		tl.Observe(t)
		tl.SetState(t, s)
		if s == state.Running {
			tl.SetRun(t, state.True)
		} else {
			tl.SetRun(t, state.False)
		}
	}
	return tl
}

func input(tl *state.Timeline, cal *calendar.Calendar) Input {
	return Input{Key: signal.Key{Site: "s", Line: "L1", Equipment: "M1"}, Timeline: tl, Calendar: cal, Loc: loc,
		Settings: Settings{DowntimeMin: 5 * time.Minute, OutOfShiftMin: 15 * time.Minute,
			MicroStopMax: 2 * time.Minute, MicroStopBurst: 3, MicroStopWindow: 30 * time.Minute}}
}

func dayShift() *calendar.Calendar {
	return &calendar.Calendar{Loc: loc, Shifts: []calendar.Recurring{{Name: "day", Start: 6 * 60, End: 18 * 60}},
		Stops: []calendar.Recurring{{Name: "lunch", Start: 12 * 60, End: 12*60 + 30}}}
}

func only(t *testing.T, evs []Event, typ string) []Event {
	t.Helper()
	var out []Event
	for _, e := range evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func TestDowntimeInShiftOnly(t *testing.T) {
	tl := plant(at(5, 0), at(19, 0), map[int64]state.State{
		at(5, 0): state.Idle, // idle before the shift: no_shift, no downtime
		at(6, 0): state.Running,
		at(8, 0): state.Down, at(8, 20): state.Running, // 20 min down: critical
		at(9, 0): state.Idle, at(9, 3): state.Running, // 3 min: below the threshold
		at(11, 50): state.Idle, at(12, 40): state.Running, // idle 11:50-12:00, lunch (planned), 12:30-12:40 idle again
		at(17, 50): state.Down, // down into the end of the shift: ends at 18:00
	})
	evs := only(t, Detect(input(tl, dayShift()), at(0, 0), Live{}), UnplannedDowntime)
	if len(evs) != 4 {
		t.Fatalf("got %d events: %+v", len(evs), evs)
	}
	e := evs[0]
	if e.Severity != Critical || e.Start.UnixNano() != at(8, 0) || e.End == nil || e.End.UnixNano() != at(8, 20) ||
		e.Detected.UnixNano() != at(8, 5) || e.Evidence["duration_s"] != 1200 || e.Shift != "day" {
		t.Fatalf("first event %+v", e)
	}
	// Idle 11:50-12:00 and 12:30-12:40: ten minutes each, split by the planned lunch.
	if evs[1].Severity != Warning || evs[1].End.UnixNano() != at(12, 0) || evs[2].Start.UnixNano() != at(12, 30) {
		t.Fatalf("lunch split %+v %+v", evs[1], evs[2])
	}
	if evs[3].End == nil || evs[3].End.UnixNano() != at(18, 0) {
		t.Fatalf("end of shift %+v", evs[3])
	}
	// The same event found from a range starting inside it has the same id.
	again := only(t, Detect(input(tl, dayShift()), at(8, 10), Live{}), UnplannedDowntime)
	if len(again) == 0 || again[0].ID != e.ID || again[0].Start != e.Start {
		t.Fatalf("re-detected %+v", again)
	}
}

func TestDowntimeOpensLiveAtThreshold(t *testing.T) {
	tl := plant(at(9, 0), at(10, 3), map[int64]state.State{at(9, 0): state.Running, at(10, 0): state.Down})
	in := input(tl, nil)
	if evs := only(t, Detect(in, at(10, 0), Live{}), UnplannedDowntime); len(evs) != 0 {
		t.Fatalf("3 min of data: %+v", evs)
	}
	if evs := only(t, Detect(in, at(10, 0), Live{Now: time.Unix(0, at(10, 4))}), UnplannedDowntime); len(evs) != 0 {
		t.Fatalf("4 min live: %+v", evs)
	}
	evs := only(t, Detect(in, at(10, 0), Live{Now: time.Unix(0, at(10, 5))}), UnplannedDowntime)
	if len(evs) != 1 || !evs[0].Open() || evs[0].Detected.UnixNano() != at(10, 5) {
		t.Fatalf("5 min live: %+v", evs)
	}
	// The machine runs again: the same event, now ended.
	tl.Observe(at(10, 7))
	tl.SetRun(at(10, 7), state.True)
	tl.SetState(at(10, 7), state.Running)
	ended := only(t, Detect(in, at(10, 3), Live{Now: time.Unix(0, at(10, 8))}), UnplannedDowntime)
	if len(ended) != 1 || ended[0].ID != evs[0].ID || ended[0].Open() || ended[0].End.UnixNano() != at(10, 7) {
		t.Fatalf("ended %+v", ended)
	}
}

func TestSignalLoss(t *testing.T) {
	tl := plant(at(9, 0), at(10, 0), map[int64]state.State{at(9, 0): state.Running})
	for t := at(11, 0); t <= at(11, 30); t += int64(time.Minute) {
		tl.Observe(t)
	}
	in := input(tl, nil)
	evs := only(t, Detect(in, at(9, 0), Live{}), SignalLoss)
	if len(evs) != 1 || evs[0].Start.UnixNano() != at(10, 10) || evs[0].End.UnixNano() != at(11, 0) {
		t.Fatalf("closed loss %+v", evs)
	}
	live := only(t, Detect(in, at(11, 0), Live{Now: time.Unix(0, at(11, 45))}), SignalLoss)
	if len(live) != 2 || !live[1].Open() || live[1].Start.UnixNano() != at(11, 40) {
		t.Fatalf("live loss %+v", live)
	}
}

func TestOutOfShiftAndMicroStops(t *testing.T) {
	changes := map[int64]state.State{at(5, 0): state.Running, at(6, 0): state.Idle, at(6, 5): state.Running}
	// Three 1-minute stops within 30 minutes, from 07:00 (window 07:00-07:30).
	for _, m := range []int{2, 10, 20} {
		changes[at(7, m)] = state.Idle
		changes[at(7, m+1)] = state.Running
	}
	tl := plant(at(4, 0), at(8, 0), changes)
	evs := Detect(input(tl, dayShift()), at(4, 0), Live{})
	oos := only(t, evs, OutOfShiftActivity)
	if len(oos) != 1 || oos[0].Start.UnixNano() != at(5, 0) || oos[0].End.UnixNano() != at(6, 0) {
		t.Fatalf("out of shift %+v", oos)
	}
	ms := only(t, evs, MicroStopBurst)
	if len(ms) != 1 || ms[0].Start.UnixNano() != at(7, 2) || ms[0].Evidence["stops"] != 3 || ms[0].Evidence["lost_s"] != 180 {
		t.Fatalf("micro stops %+v", ms)
	}
	if dt := only(t, evs, UnplannedDowntime); len(dt) != 1 || dt[0].Start.UnixNano() != at(6, 0) {
		t.Fatalf("downtime %+v", dt)
	}
}

func TestActivityDrop(t *testing.T) {
	// Four weeks of running 10:00-11:00 every day, then an hour with 10 minutes.
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, loc)
	changes := map[int64]state.State{}
	for d := 0; d < 29; d++ {
		day := start.AddDate(0, 0, d)
		changes[day.Add(10*time.Hour).UnixNano()] = state.Running
		stop := day.Add(11 * time.Hour)
		if d == 28 {
			stop = day.Add(10*time.Hour + 10*time.Minute)
		}
		changes[stop.UnixNano()] = state.Idle
	}
	last := start.AddDate(0, 0, 28)
	tl := plant(start.UnixNano(), last.Add(12*time.Hour).UnixNano(), changes)
	in := input(tl, nil)
	in.Settings = Settings{ActivityDrop: 0.5, ActivityWeeks: 4}
	evs := only(t, Detect(in, last.UnixNano(), Live{}), ActivityDrop)
	if len(evs) != 1 || !evs[0].Start.Equal(last.Add(10*time.Hour)) || evs[0].Evidence["run_s"] != 600 || evs[0].Evidence["baseline_s"] != 3600 {
		t.Fatalf("activity drop %+v", evs)
	}
}

func TestIdleRunningEvent(t *testing.T) {
	tl := plant(at(8, 0), at(9, 0), map[int64]state.State{at(8, 0): state.Running})
	n := 0.0
	for m := 0; m <= 60; m += 2 {
		if m <= 20 || m >= 50 {
			n++
		}
		tl.SetCount(at(8, m), n)
	}
	in := input(tl, nil)
	in.Settings = Settings{IdleRunningMin: 10 * time.Minute}
	evs := only(t, Detect(in, at(8, 0), Live{}), IdleRunning)
	if len(evs) != 1 || evs[0].Start.UnixNano() != at(8, 20) || evs[0].End.UnixNano() != at(8, 50) || evs[0].Evidence["duration_s"] != 1800 {
		t.Fatalf("idle running %+v", evs)
	}
	// Found from a range starting inside it: same id.
	again := only(t, Detect(in, at(8, 40), Live{}), IdleRunning)
	if len(again) != 1 || again[0].ID != evs[0].ID {
		t.Fatalf("re-detected %+v", again)
	}
}

// A stop across a change between back-to-back shifts is one event (its shift
// is the one it began in); it ends where no shift follows.
func TestDowntimeAcrossShiftChange(t *testing.T) {
	cal := &calendar.Calendar{Loc: loc, Shifts: []calendar.Recurring{
		{Name: "early", Start: 6 * 60, End: 14 * 60}, {Name: "late", Start: 14 * 60, End: 22 * 60}}}
	tl := plant(at(12, 0), at(23, 0), map[int64]state.State{
		at(12, 0):  state.Running,
		at(13, 40): state.Down, at(14, 30): state.Running, // across the change to the late shift
		at(21, 40): state.Idle, // into the end of the late shift, with no shift after it
	})
	evs := only(t, Detect(input(tl, cal), at(12, 0), Live{}), UnplannedDowntime)
	if len(evs) != 2 {
		t.Fatalf("got %d events: %+v", len(evs), evs)
	}
	if e := evs[0]; e.Start.UnixNano() != at(13, 40) || e.End == nil || e.End.UnixNano() != at(14, 30) || e.Shift != "early" {
		t.Fatalf("across the shift change %+v", e)
	}
	if e := evs[1]; e.Start.UnixNano() != at(21, 40) || e.End == nil || e.End.UnixNano() != at(22, 0) || e.Shift != "late" {
		t.Fatalf("into the end of the shifts %+v", e)
	}
}
