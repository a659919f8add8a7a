package detect

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// memSink keeps the latest version of each event (the store's upsert, minus
// lifecycle), and counts how often an event changed.
type memSink struct {
	events  map[string]anomaly.Event
	changes map[string]int
}

func (m *memSink) Apply(evs []anomaly.Event, _ time.Time) ([]anomaly.Record, error) {
	for _, e := range evs {
		old, ok := m.events[e.ID]
		if !ok || old.Open() != e.Open() {
			m.changes[e.ID]++
		}
		m.events[e.ID] = e
	}
	return nil, nil
}

type rig struct {
	eng   *engine.Engine
	sink  *memSink
	r     *Runner
	now   time.Time
	dirty engine.Dirty
}

func newRig(t *testing.T, start time.Time) *rig {
	eng := engine.New(engine.Options{Location: time.UTC, Threshold: func(string) time.Duration { return time.Hour },
		Timeout: 2 * time.Hour}, nil)
	g := &rig{eng: eng, sink: &memSink{events: map[string]anomaly.Event{}, changes: map[string]int{}}, now: start, dirty: engine.Dirty{}}
	g.r = New(Options{Engine: eng, Sink: g.sink, Timeout: 10 * time.Minute, Clock: func() time.Time { return g.now },
		Settings: func(activity.Equipment) anomaly.Settings { return anomaly.Settings{DowntimeMin: 5 * time.Minute} },
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil))})
	return g
}

func (g *rig) send(t *testing.T, sigs ...signal.Signal) {
	t.Helper()
	_, d := g.eng.Apply(sigs)
	g.dirty.Merge(d)
	if err := g.r.Signals(sigs); err != nil {
		t.Fatal(err)
	}
}

func (g *rig) flush(t *testing.T) {
	t.Helper()
	if err := g.r.Flushed(g.dirty); err != nil {
		t.Fatal(err)
	}
	g.dirty = engine.Dirty{}
}

func run(at time.Time, on bool) signal.Signal {
	return signal.Signal{Site: "s", Line: "L1", Equipment: "M1", Name: signal.Run, Value: signal.Bool(on), Time: at}
}

// A live stop opens an event at its threshold without new data, and the
// event resolves when the machine runs again; detecting again changes nothing.
func TestLiveDowntime(t *testing.T) {
	t0 := time.Date(2026, 10, 6, 10, 0, 0, 0, time.UTC)
	g := newRig(t, t0)
	g.send(t, run(t0.Add(-time.Hour), true), run(t0, false))
	g.flush(t)
	g.now = t0.Add(4 * time.Minute)
	if err := g.r.Tick(); err != nil || len(g.sink.events) != 0 {
		t.Fatalf("before the threshold: %v %v", g.sink.events, err)
	}
	g.now = t0.Add(5*time.Minute + 100*time.Millisecond)
	if err := g.r.Tick(); err != nil || len(g.sink.events) != 1 {
		t.Fatalf("at the threshold: %v %v", g.sink.events, err)
	}
	for _, e := range g.sink.events {
		if !e.Open() || e.Type != anomaly.UnplannedDowntime || !e.Detected.Equal(t0.Add(5*time.Minute)) {
			t.Fatalf("event %+v", e)
		}
	}
	g.now = t0.Add(8 * time.Minute)
	g.send(t, run(t0.Add(8*time.Minute), true))
	g.flush(t)
	g.r.Tick()
	for id, e := range g.sink.events {
		if e.Open() || !e.End.Equal(t0.Add(8*time.Minute)) || g.sink.changes[id] != 2 {
			t.Fatalf("after running again: %+v (%d changes)", e, g.sink.changes[id])
		}
	}
}

// History (old data) never extends to now: a stop at the end of replayed
// data is judged on the data alone, and late data that removes a stop
// closes its event.
func TestHistoryAndRestatement(t *testing.T) {
	t0 := time.Date(2026, 9, 1, 10, 0, 0, 0, time.UTC)
	g := newRig(t, t0.AddDate(0, 1, 0)) // a month later
	g.send(t, run(t0, true), run(t0.Add(time.Hour), false), run(t0.Add(time.Hour+3*time.Minute), false))
	g.flush(t)
	g.r.Tick()
	if len(g.sink.events) != 0 {
		t.Fatalf("3 minutes of history stop: %+v", g.sink.events)
	}
	g.send(t, run(t0.Add(time.Hour+20*time.Minute), false))
	g.flush(t)
	if len(g.sink.events) != 1 {
		t.Fatalf("20 minutes stopped: %+v", g.sink.events)
	}
	// Late data: the machine was running from 10 minutes into the "stop".
	g.send(t, run(t0.Add(time.Hour+4*time.Minute), true))
	g.flush(t)
	for _, e := range g.sink.events {
		if e.Open() {
			t.Fatalf("restated event still open: %+v", e)
		}
	}
}

// A machine whose history is still being replayed is not judged live because
// another machine of its plant already sends current data.
func TestReplayedMachineNotLiveBesideALiveOne(t *testing.T) {
	now := time.Date(2026, 10, 6, 10, 0, 0, 0, time.UTC)
	g := newRig(t, now)
	old := now.AddDate(0, -1, 0)
	m2 := func(at time.Time, on bool) signal.Signal {
		s := run(at, on)
		s.Equipment = "M2"
		return s
	}
	g.send(t, run(now.Add(-time.Minute), true), m2(old, true), m2(old.Add(time.Minute), true))
	g.flush(t)
	if err := g.r.Tick(); err != nil {
		t.Fatal(err)
	}
	for _, e := range g.sink.events {
		t.Errorf("event for replayed history: %+v", e)
	}
	// M1 goes silent beyond the timeout: that is signal loss.
	g.now = now.Add(3 * time.Hour)
	g.r.Tick()
	if len(g.sink.events) != 1 {
		t.Fatalf("want one signal loss for M1, got %+v", g.sink.events)
	}
	for _, e := range g.sink.events {
		if e.Type != anomaly.SignalLoss || e.Equipment != "M1" || !e.Open() {
			t.Fatalf("event %+v", e)
		}
	}
}
