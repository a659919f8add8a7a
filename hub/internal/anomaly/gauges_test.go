package anomaly

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly/gauge"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

func sample(t0 time.Time, i int, v float64) signal.Signal {
	return signal.Signal{Site: "s", Line: "L1", Equipment: "M1", Name: "spindle_load", Value: signal.Number(v), Time: t0.Add(time.Duration(i) * time.Minute)}
}

func TestGaugeAnomalyAndFlatline(t *testing.T) {
	g, err := NewGauges(gauge.DefaultConfig(), loc)
	if err != nil {
		t.Fatal(err)
	}
	st := Settings{FlatlineMin: 30 * time.Minute, GaugeThreshold: 0.5}
	always := func(a, b int64) bool { return true }
	t0 := time.Date(2026, 10, 6, 0, 0, 0, 0, loc)
	var evs []Event
	i := 0
	for ; i < 2000; i++ {
		v := 50 + 5*math.Sin(float64(i)/7) + float64(i%3)
		if i == 1500 {
			v = 400 // a jam
		}
		evs = append(evs, g.Observe(sample(t0, i, v), st, always, nil)...)
	}
	var anomalies []Event
	for _, e := range evs {
		if e.Type == GaugeAnomaly {
			anomalies = append(anomalies, e)
		}
	}
	if len(anomalies) != 1 || !anomalies[0].Start.Equal(t0.Add(1500*time.Minute)) || anomalies[0].Open() {
		t.Fatalf("gauge anomalies %+v", anomalies)
	}
	// Stuck at 42 for 45 minutes: open after 30, closed when it moves.
	var flat []Event
	for k := 0; k < 45; k++ {
		flat = append(flat, g.Observe(sample(t0, i+k, 42), st, always, nil)...)
	}
	flat = append(flat, g.Observe(sample(t0, i+45, 43), st, always, nil)...)
	var fl []Event
	for _, e := range flat {
		if e.Type == Flatline {
			fl = append(fl, e)
		}
	}
	if len(fl) != 2 || !fl[0].Open() || fl[1].Open() || fl[0].ID != fl[1].ID || fl[1].Evidence["duration_s"] != 45*60 {
		t.Fatalf("flatline %+v", fl)
	}
	// Replayed samples change nothing.
	if again := g.Observe(sample(t0, i+10, 42), st, always, nil); len(again) != 0 {
		t.Fatalf("old sample produced %+v", again)
	}
	// Not running: no flatline.
	never := func(a, b int64) bool { return false }
	var none []Event
	for k := 46; k < 100; k++ {
		none = append(none, g.Observe(sample(t0, i+k, 7), st, never, nil)...)
	}
	for _, e := range none {
		if e.Type == Flatline {
			t.Fatalf("flatline while stopped: %+v", e)
		}
	}
}

// A gauge restored from its state finds what the original finds, and skips
// the samples the original had seen (a redelivered batch).
func TestGaugeStateRoundTrip(t *testing.T) {
	st := Settings{FlatlineMin: 30 * time.Minute, GaugeThreshold: 0.5}
	always := func(a, b int64) bool { return true }
	t0 := time.Date(2026, 10, 6, 0, 0, 0, 0, loc)
	value := func(i int) float64 {
		switch {
		case i == 300 || i == 1110:
			return 400
		case i >= 975 && i < 1020:
			return 42
		}
		return 50 + 5*math.Sin(float64(i)/7) + float64(i%3)
	}
	feed := func(g *Gauges, from, to int) []Event {
		var out []Event
		for i := from; i < to; i++ {
			out = append(out, g.Observe(sample(t0, i, value(i)), st, always, nil)...)
		}
		return out
	}
	ref, _ := NewGauges(gauge.DefaultConfig(), loc)
	want := feed(ref, 0, 1300)

	a, _ := NewGauges(gauge.DefaultConfig(), loc)
	got := feed(a, 0, 1000)
	k := sample(t0, 0, 0).Key()
	data, ok, err := a.State(k, "spindle_load")
	if err != nil || !ok {
		t.Fatalf("state: %v %v", ok, err)
	}
	b, _ := NewGauges(gauge.DefaultConfig(), loc)
	if err := b.Restore(k, "spindle_load", data); err != nil || !b.Tracks(k, "spindle_load") {
		t.Fatalf("restore: %v", err)
	}
	if again := feed(b, 950, 1000); len(again) != 0 {
		t.Fatalf("samples seen before the state was saved gave %+v", again)
	}
	got = append(got, feed(b, 1000, 1300)...)
	if len(got) != len(want) || len(want) < 4 {
		t.Fatalf("restored: %d events, uninterrupted %d", len(got), len(want))
	}
	for i := range want {
		if got[i].ID != want[i].ID || !got[i].Start.Equal(want[i].Start) || got[i].Open() != want[i].Open() {
			t.Errorf("event %d: %+v, want %+v", i, got[i], want[i])
		}
	}

	other := gauge.DefaultConfig()
	other.Window = 512
	c, _ := NewGauges(other, loc)
	if err := c.Restore(k, "spindle_load", data); !errors.Is(err, ErrGaugeState) || c.Tracks(k, "spindle_load") {
		t.Errorf("restored with other parameters: %v", err)
	}
	if err := c.Restore(k, "spindle_load", data[:40]); !errors.Is(err, ErrGaugeState) {
		t.Errorf("truncated state: %v", err)
	}
	if _, ok, _ := c.State(k, "other"); ok {
		t.Error("state of an unknown gauge")
	}
}

// A gauge state saved by a hub running version 1 of the detector (state
// format 1, other parameters) is not restored: the gauge starts afresh.
func TestGaugeStateVersion1StartsAfresh(t *testing.T) {
	v1, err := os.ReadFile("gauge/testdata/state_v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	var d gauge.Detector
	if err := d.UnmarshalBinary(v1); err != nil {
		t.Fatalf("the version 1 detector state does not decode: %v", err)
	}
	data := append([]byte(nil), gaugeMagic[:]...)
	data = append(data, gaugeVersion)
	data = append(data, make([]byte, 8*3+1)...) // no sample, no flatline
	data = append(data, v1...)
	g, _ := NewGauges(gauge.DefaultConfig(), time.UTC)
	k := signal.Key{Site: "s", Line: "l", Equipment: "e"}
	err = g.Restore(k, "spindle_load", data)
	if !errors.Is(err, ErrGaugeState) || !strings.Contains(err.Error(), "other detector parameters") || g.Tracks(k, "spindle_load") {
		t.Fatalf("a version 1 state: %v, want refused for its other parameters", err)
	}
}
