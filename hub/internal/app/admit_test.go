package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// Signals whose source time is outside [now - accept_age, now +
// max_clock_skew] are set aside before they reach the engine, counted per
// agent and logged with the equipment and the time; a gap marker is cut to
// the window.
func TestAdmissionTimeWindow(t *testing.T) {
	var logs bytes.Buffer
	pt := testPart(t, &recorder{})
	pt.adm.log = slog.New(slog.NewTextHandler(&logs, nil))
	now := testNow
	far := func(at time.Time, agent string) signal.Signal { s := runSignal(at); s.Agent = agent; return s }
	gap := signal.Signal{Site: "s1", Line: "L1", Equipment: "M01", Name: signal.GapName, Value: signal.Bool(true), Time: now, Agent: "a1",
		Gap: &signal.Gap{From: time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), To: now.Add(-time.Hour)}}
	batch := []signal.Signal{
		far(now.Add(-time.Hour), "a1"),
		far(time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC), "a1"),
		far(time.Date(2199, 6, 1, 0, 0, 0, 0, time.UTC), "a2"),
		far(now.Add(4*time.Minute), "a2"),     // within the skew
		far(now.Add(6*time.Minute), ""),       // beyond it
		far(now.Add(-399*24*time.Hour), "a1"), // within the accepted age
		gap,
	}
	orig := *batch[6].Gap
	kept := pt.adm.admit(batch)
	if len(kept) != 4 {
		t.Fatalf("kept %d signals, want 4: %v", len(kept), kept)
	}
	if g := kept[3].Gap; g == nil || !g.From.Equal(now.Add(-400*24*time.Hour)) || !g.To.Equal(now.Add(-time.Hour)) {
		t.Fatalf("gap not cut to the window: %+v", g)
	}
	if *batch[6].Gap != orig {
		t.Fatal("the batch's gap was changed")
	}
	if got := pt.adm.out.counts(); got["a1"] != 1 || got["a2"] != 1 || got["unknown"] != 1 {
		t.Fatalf("counts per agent: %v", got)
	}
	if err := pt.handle(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if first, horizon, ok := pt.eng.Span(); !ok || first.Before(now.Add(-400*24*time.Hour)) || horizon.After(now.Add(5*time.Minute)) {
		t.Fatalf("the engine holds %s to %s", first, horizon)
	}
	if s := logs.String(); strings.Count(s, "signal outside the accepted time window set aside") != 1 ||
		!strings.Contains(s, "equipment=s1/L1/M01") || !strings.Contains(s, "time=2001-01-01") {
		t.Fatalf("logs (one line a second, naming equipment and time):\n%s", s)
	}
}

// The agent label is bounded: after maxAgentLabels agents, "other".
func TestAgentCountsBounded(t *testing.T) {
	c := newAgentCounts()
	for i := range 3 * maxAgentLabels {
		c.add(fmt.Sprintf("agent%d", i))
	}
	c.add("agent0")
	c.add(strings.Repeat("x", 100))
	got := c.counts()
	if len(got) != maxAgentLabels+1 || got["agent0"] != 2 || got["other"] != 2*maxAgentLabels+1 {
		t.Fatalf("%d labels, agent0 %d, other %d", len(got), got["agent0"], got["other"])
	}
}

// Equipment missing from the registry beyond the site's limit is set aside
// before the engine and the detectors see it, and logged.
func TestAdmissionRegistryLimit(t *testing.T) {
	cfg := testConfig(t)
	cfg.RegistryPolicy.LimitPerSite = 3
	eng := engine.New(cfg.EngineOptions(), nil)
	var logs bytes.Buffer
	adm := newAdmission(cfg, func() time.Time { return testNow }, eng, newAgentCounts(), slog.New(slog.NewTextHandler(&logs, nil)))
	var batch []signal.Signal
	for i := range 10 {
		s := runSignal(testNow.Add(-time.Hour))
		s.Equipment = fmt.Sprintf("X%02d", i)
		batch = append(batch, s)
	}
	batch = append(batch, runSignal(testNow.Add(-time.Hour)))
	kept := adm.admit(batch)
	if len(kept) != 4 {
		t.Fatalf("kept %d, want 3 unregistered and M01", len(kept))
	}
	if st := eng.Stats(); st.UnregisteredAccepted != 3 || st.UnregisteredRejected != 7 {
		t.Fatalf("stats %+v", st)
	}
	if !strings.Contains(logs.String(), "equipment=s1/L1/X03 signals=7") {
		t.Fatalf("logs: %s", logs.String())
	}
}

// sizes is a writer that notes the points of every write.
type sizes struct {
	mu     sync.Mutex
	points []int
	months map[string]bool
}

func (s *sizes) Write(_ context.Context, r engine.Result) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.points = append(s.points, r.Points())
	for _, f := range r.Equipment {
		s.months[f.Period.Start.Format("2006-01")] = true
	}
	return nil
}

// Pending ranges decades apart are written in chunks, each write about
// flushPoints points at most, and cleared once all are written.
func TestFlushWritesWideRangesInChunks(t *testing.T) {
	w := &sizes{months: map[string]bool{}}
	pt := testPart(t, w)
	k := signal.Key{Site: "s1", Line: "L1", Equipment: "M01"}
	wide := engine.Dirty{}
	wide.Mark(k, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), time.Date(2003, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()-1)
	wide.Mark(signal.Key{Site: "s1", Line: "L2", Equipment: "X1"}, time.Date(2150, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), time.Date(2150, 1, 1, 1, 0, 0, 0, time.UTC).UnixNano())
	if err := pt.st.Save(nil, wide); err != nil {
		t.Fatal(err)
	}
	pt.fl.mark(wide)
	if err := pt.fl.flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(w.points) < 10 {
		t.Fatalf("%d writes for two years of hours", len(w.points))
	}
	for _, n := range w.points {
		if n > 2*flushPoints {
			t.Fatalf("a write of %d points", n)
		}
	}
	if len(w.months) != 24 {
		t.Fatalf("M01's figures in %d months, want the 24 of 2001 and 2002", len(w.months))
	}
	if pend, err := pt.st.Pending(); err != nil || len(pend) != 0 {
		t.Fatalf("pending after the flush: %v %v", pend, err)
	}
}
