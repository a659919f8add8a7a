package detect

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly/gauge"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// gaugeRig is a hub's detection over a real event store: the engine stands
// for the durable timelines, the runner is what a restart rebuilds.
type gaugeRig struct {
	eng    *engine.Engine
	ev     *ledger.Store
	r      *Runner
	now    time.Time
	fail   bool // the next ApplyGauges fails (a full disk)
	failed bool // it did
}

// ApplyGauges is the store's, failing once when fail is set.
func (g *gaugeRig) ApplyGauges(evs []anomaly.Event, states map[string][]byte, now time.Time) ([]anomaly.Record, error) {
	if g.fail {
		g.fail, g.failed = false, true
		return nil, errors.New("disk full")
	}
	return g.ev.ApplyGauges(evs, states, now)
}

func (g *gaugeRig) GaugeState(key string) ([]byte, bool, error) { return g.ev.GaugeState(key) }

func newGaugeRig(t *testing.T, now time.Time) *gaugeRig {
	t.Helper()
	ev, err := ledger.Open(filepath.Join(t.TempDir(), "events.db"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ev.Close() })
	eng := engine.New(engine.Options{Location: time.UTC, Threshold: func(string) time.Duration { return time.Hour },
		Timeout: 2 * time.Hour}, nil)
	g := &gaugeRig{eng: eng, ev: ev, now: now}
	g.restart(t)
	return g
}

// restart builds a new runner from what the store holds, as the hub does at
// start (newRunner): its open records and, for gauges, their saved state.
func (g *gaugeRig) restart(t *testing.T) {
	t.Helper()
	var open []anomaly.Record
	for _, status := range []string{anomaly.Opened, anomaly.Acknowledged} {
		recs, _, _, err := g.ev.List(ledger.Filter{Status: status}, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, recs...)
	}
	gs, err := anomaly.NewGauges(gauge.DefaultConfig(), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	g.r = New(Options{Engine: g.eng, Sink: g.ev, States: g, Gauges: gs, Open: open, Timeout: 10 * time.Minute,
		Clock: func() time.Time { return g.now },
		Settings: func(activity.Equipment) anomaly.Settings {
			return anomaly.Settings{FlatlineMin: 30 * time.Minute, GaugeThreshold: 0.5}
		},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func (g *gaugeRig) feed(t *testing.T, batch []signal.Signal) {
	t.Helper()
	g.eng.Apply(batch)
	if err := g.r.Signals(batch); err != nil {
		if !g.failed {
			t.Fatal(err)
		}
		g.failed = false
		g.feed(t, batch) // not acked: redelivered
	}
}

// gaugeEvents lists the gauge events of the store: id, start, end, status.
func (g *gaugeRig) gaugeEvents(t *testing.T) []string {
	t.Helper()
	var out []string
	cursor := ""
	for {
		recs, next, more, err := g.ev.List(ledger.Filter{}, cursor, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.Type != anomaly.GaugeAnomaly && r.Type != anomaly.Flatline {
				continue
			}
			end := "open"
			if r.End != nil {
				end = r.End.UTC().Format(time.RFC3339)
			}
			out = append(out, fmt.Sprintf("%s %s %s %s..%s %s", r.ID, r.Type, r.Signal, r.Start.UTC().Format(time.RFC3339), end, r.Status))
		}
		if !more {
			break
		}
		cursor = next
	}
	slices.Sort(out)
	return out
}

// gaugeBatches is a machine running for 1600 minutes with a spindle load
// sampled every minute, in batches of 50 samples: two jams and a constant
// run that spans sample 1000.
func gaugeBatches(t0 time.Time) [][]signal.Signal {
	var batches [][]signal.Signal
	var b []signal.Signal
	for i := 0; i < 1600; i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		v := 50 + 5*math.Sin(float64(i)/7) + float64(i%3)
		switch {
		case i == 500 || i == 1110:
			v = 400
		case i >= 975 && i < 1020:
			v = 42
		}
		b = append(b,
			signal.Signal{Site: "s", Line: "L1", Equipment: "M1", Name: signal.Run, Value: signal.Bool(true), Time: at},
			signal.Signal{Site: "s", Line: "L1", Equipment: "M1", Name: "spindle_load", Value: signal.Number(v), Time: at})
		if len(b) == 100 {
			batches = append(batches, b)
			b = nil
		}
	}
	return batches
}

// A restart between two batches (also a SIGKILL after a batch's events were
// stored but before its ack, so that the batch comes again) finds the same
// gauge events as an uninterrupted run.
func TestGaugeEventsSurviveRestart(t *testing.T) {
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	now := t0.Add(1600 * time.Minute)
	batches := gaugeBatches(t0)
	const split = 20 // batches before the restart: samples 0-999

	ref := newGaugeRig(t, now)
	for _, b := range batches {
		ref.feed(t, b)
	}
	want := ref.gaugeEvents(t)
	if len(want) < 3 {
		t.Fatalf("the series should give two jams and a flatline: %v", want)
	}

	for _, tc := range []struct {
		name       string
		redelivery bool
		failure    bool
	}{{"restart", false, false}, {"restart and redelivery", true, false}, {"failed commit", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGaugeRig(t, now)
			for _, b := range batches[:split] {
				g.feed(t, b)
			}
			g.restart(t)
			if tc.redelivery {
				g.feed(t, batches[split-1]) // stored but not acked before the kill
			}
			for i, b := range batches[split:] {
				g.fail = tc.failure && i == 1
				g.feed(t, b)
				if tc.redelivery && i == 0 {
					g.feed(t, b) // and redelivered once more
				}
			}
			if got := g.gaugeEvents(t); !slices.Equal(got, want) {
				t.Errorf("gauge events after a restart:\n%s\nuninterrupted:\n%s", join(got), join(want))
			}
		})
	}
}

func join(s []string) string {
	out := ""
	for _, l := range s {
		out += "  " + l + "\n"
	}
	return out
}
