package anomaly

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/pkg/signal"
)

// riskSignals is a machine on run (no state) working 06:00-22:00 with a
// power gauge every 5 minutes while it runs, whose power rises by 30 % over
// days 20 to 23.
func riskSignals(days int) []signal.Signal {
	r := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	onset, full := t0.Add(20*24*time.Hour), t0.Add(23*24*time.Hour)
	var out []signal.Signal
	add := func(t time.Time, name string, v signal.Value) {
		out = append(out, signal.Signal{Site: "s", Line: "L1", Equipment: "M1", Name: name, Value: v, Time: t, Quality: signal.Good})
	}
	for day := 0; day < days; day++ {
		t := t0.Add(time.Duration(day)*24*time.Hour + 6*time.Hour)
		end := t.Add(16 * time.Hour)
		for t.Before(end) {
			add(t, signal.Run, signal.Bool(true))
			run := time.Duration(40+r.IntN(30)) * time.Minute
			for s := time.Duration(0); s < run; s += 5 * time.Minute {
				lv := math.Max(0, math.Min(1, float64(t.Add(s).Sub(onset))/float64(full.Sub(onset))))
				add(t.Add(s), "power", signal.Number(20*(1+0.3*lv)*(0.95+0.1*r.Float64())))
			}
			t = t.Add(run)
			add(t, signal.Run, signal.Bool(false))
			t = t.Add(time.Duration(5+r.IntN(10)) * time.Minute)
		}
	}
	return out
}

func TestRisksFromRunAndGauges(t *testing.T) {
	st := Settings{MicroStopMax: 2 * time.Minute, RiskThreshold: 3, RiskHold: 2 * time.Hour}
	r := NewRisks(time.UTC)
	var evs []Event
	for _, s := range riskSignals(30) {
		evs = append(evs, r.Observe(s, st)...)
	}
	if len(evs) == 0 {
		t.Fatal("no failure_risk event from a rising power gauge")
	}
	e := evs[0]
	k := signal.Key{Site: "s", Line: "L1", Equipment: "M1"}
	if e.Type != FailureRisk || !e.Open() || e.ID != EventID(FailureRisk, k, "", e.Start) || e.Detected.Before(e.Start) {
		t.Fatalf("event %+v", e)
	}
	if e.Evidence["power_z"] < 2 || e.Evidence["power_current"] <= e.Evidence["power_baseline"] || e.Evidence["score"] < 3 ||
		!strings.Contains(e.Reason, "power") {
		t.Fatalf("evidence %v, reason %q", e.Evidence, e.Reason)
	}
	// Without a threshold nothing opens, though the detector learns.
	off := NewRisks(time.UTC)
	st.RiskThreshold = 0
	for _, s := range riskSignals(30) {
		if got := off.Observe(s, st); len(got) != 0 {
			t.Fatalf("risk_threshold 0 opened %+v", got)
		}
	}
	if !off.Tracks(k) {
		t.Fatal("the equipment is not tracked")
	}
}

func TestRisksStateRoundTrip(t *testing.T) {
	st := Settings{MicroStopMax: 2 * time.Minute, RiskThreshold: 3, RiskHold: 2 * time.Hour}
	sigs := riskSignals(30)
	k := signal.Key{Site: "s", Line: "L1", Equipment: "M1"}
	want := NewRisks(time.UTC)
	var a []Event
	for _, s := range sigs {
		a = append(a, want.Observe(s, st)...)
	}
	first := NewRisks(time.UTC)
	var b []Event
	for _, s := range sigs[:len(sigs)/2] {
		b = append(b, first.Observe(s, st)...)
	}
	data, ok, err := first.State(k)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	second := NewRisks(time.UTC)
	if err := second.Restore(k, []byte{7}); err == nil {
		t.Fatal("a bad state was restored")
	}
	if err := second.Restore(k, data); err != nil {
		t.Fatal(err)
	}
	for _, s := range sigs[len(sigs)/2:] {
		b = append(b, second.Observe(s, st)...)
	}
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%d events after a restore, %d without", len(b), len(a))
	}
	for i := range a {
		if a[i].ID != b[i].ID || !a[i].Detected.Equal(b[i].Detected) {
			t.Errorf("event %d: %+v after a restore, %+v without", i, b[i], a[i])
		}
	}
}
