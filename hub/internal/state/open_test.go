package state

import (
	"fmt"
	"testing"
)

// The open timeline says, after the latest observation, what the timeline
// will say of that stretch once its next observation comes: the state at
// the horizon until the timeout has passed, unknown from then on.
func TestOpen(t *testing.T) {
	const min = int64(60e9)
	changes := func(tl *Timeline, a, b int64) string {
		var s string
		for _, c := range tl.Changes(a, b, nil) {
			s += fmt.Sprintf("%d:%s ", c.Start/min, c.State)
		}
		return s
	}
	tl := &Timeline{Timeout: 30 * min}
	for i, v := range []int8{False, True, True} { // idle at 0, running from 10, observed at 20
		tl.Observe(int64(i) * 10 * min)
		tl.SetRun(int64(i)*10*min, v)
	}
	if got, want := changes(tl, 0, 60*min), "0:idle 10:running 20:unknown "; got != want {
		t.Fatalf("closed timeline: %s, want %s", got, want)
	}
	open, end := tl.Open()
	if end != 50*min {
		t.Fatalf("end %d min, want 50", end/min)
	}
	if got, want := changes(open, 0, end+1), "0:idle 10:running 50:unknown "; got != want {
		t.Fatalf("open timeline: %s, want %s", got, want)
	}
	if _, h, _ := tl.Span(); h != 20*min {
		t.Fatalf("Open changed the timeline: horizon %d", h/min)
	}

	// The next observation comes after the timeout: the stretch is what the
	// open timeline said.
	later := Restore(tl.Timeout, Saved{First: 0, Horizon: 20 * min, Run: tl.Run()})
	later.Observe(90 * min)
	later.SetRun(90*min, True)
	if got, want := changes(later, 0, 90*min), "0:idle 10:running 50:unknown "; got != want {
		t.Fatalf("after a silence: %s, want %s", got, want)
	}

	// Without a timeout the state at the horizon holds on, and End is the horizon.
	tl.Timeout = 0
	open, end = tl.Open()
	if end != 20*min {
		t.Fatalf("end without timeout %d min, want 20", end/min)
	}
	if got, want := changes(open, 0, end+1), "0:idle 10:running "; got != want {
		t.Fatalf("open timeline without timeout: %s, want %s", got, want)
	}

	// Never observed: nothing to say.
	if c := (&Timeline{Timeout: min}).Changes(0, 10*min, nil); c != nil {
		t.Fatalf("never observed: %v", c)
	}
}
