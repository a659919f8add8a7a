package opcua

import (
	"testing"
	"time"
)

func TestWatchdogTickPace(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	w := newWatchdog(time.Second, t0)
	if w.tick(t0.Add(100 * time.Millisecond)) {
		t.Error("the first value of the clock counted as a tick at pace")
	}
	if !w.tick(t0.Add(2 * time.Second)) {
		t.Error("a value 1.9 s after the one before, period 1 s, not at pace")
	}
	if w.tick(t0.Add(4500 * time.Millisecond)) {
		t.Error("a value 2.5 s after the one before, period 1 s, counted at pace")
	}
}

func TestWatchdogVerdict(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const p = time.Second
	for _, tc := range []struct {
		name           string
		ticks, data    []time.Duration // after t0: clock values, notifications handled
		at             time.Duration
		armed          bool
		silent, disarm bool
	}{
		{name: "not armed: never judged", at: time.Hour},
		{name: "nothing published yet", at: 2900 * time.Millisecond, armed: true},
		{name: "nothing published for three periods", at: 3 * time.Second, armed: true, silent: true},
		{name: "clock ticking", ticks: []time.Duration{0, p, 2 * p}, data: []time.Duration{0, p, 2 * p}, at: 4 * time.Second, armed: true},
		{name: "clock ticked, then nothing", ticks: []time.Duration{0, p, 2 * p}, data: []time.Duration{0, p, 2 * p}, at: 5 * time.Second, armed: true, silent: true},
		{name: "first values, clock never ticked again", ticks: []time.Duration{0}, data: []time.Duration{0}, at: 3 * time.Second, armed: true, disarm: true},
		{name: "values without the clock, then quiet", data: []time.Duration{0, p}, at: 4 * time.Second, armed: true, disarm: true},
		{name: "values keep coming without the clock", ticks: []time.Duration{0}, data: []time.Duration{0, p, 2 * p, 3 * p}, at: 5 * time.Second, armed: true},
	} {
		w := newWatchdog(p, t0)
		for _, d := range tc.ticks {
			w.tick(t0.Add(d))
		}
		for _, d := range tc.data {
			w.handled(t0.Add(d))
		}
		silent, disarm := w.verdict(t0.Add(tc.at), tc.armed)
		if silent != tc.silent || disarm != tc.disarm {
			t.Errorf("%s: silent %v, disarm %v; want %v, %v", tc.name, silent, disarm, tc.silent, tc.disarm)
		}
	}
}
