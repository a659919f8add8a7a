package detect

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/events"
	"github.com/floorpulse/floorpulse/hub/internal/events/delivery"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
	"github.com/floorpulse/floorpulse/pkg/risk"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

var riskT0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// Degradation of the machine in wearBatches: its temperature rises by 6 °C
// from the onset to the breakdown (state down for two hours) at the due time.
var (
	wearOnset = riskT0.Add(30 * 24 * time.Hour)
	wearDue   = wearOnset.Add(4*24*time.Hour + 10*time.Hour)
)

// wearBatches is 40 days of a machine working 06:00-22:00 (runs, idle
// spells, micro-stops; state, count and a temperature sampled every 5
// minutes while it runs), whose temperature drifts before a breakdown, in
// batches of 500 signals.
func wearBatches() ([][]signal.Signal, time.Time) {
	r := rand.New(rand.NewPCG(3, 1))
	var all []signal.Signal
	at := func(t time.Time, name string, v signal.Value) {
		all = append(all, signal.Signal{Site: "s", Line: "L1", Equipment: "M1", Name: name, Value: v, Time: t, Agent: "a"})
	}
	count, down := 0.0, time.Time{}
	for day := 0; day < 40; day++ {
		t := riskT0.Add(time.Duration(day)*24*time.Hour + 6*time.Hour)
		end := t.Add(16 * time.Hour)
		for t.Before(end) {
			if down.IsZero() && !t.Before(wearDue) {
				at(t, signal.State, signal.String("down"))
				down = t
				t = t.Add(2 * time.Hour)
				continue
			}
			at(t, signal.State, signal.String("running"))
			run := time.Duration(30+r.IntN(40)) * time.Minute
			lv := 0.0
			if down.IsZero() && t.After(wearOnset) {
				lv = float64(t.Sub(wearOnset)) / float64(wearDue.Sub(wearOnset))
			}
			for s := time.Duration(0); s < run; s += 5 * time.Minute {
				at(t.Add(s), signal.Count, signal.Number(count+math.Floor(s.Seconds()/60)))
				at(t.Add(s), "temperature", signal.Number(math.Round((40+0.5*r.NormFloat64()+6*lv)*100)/100))
			}
			count += math.Floor(run.Seconds() / 60)
			t = t.Add(run)
			at(t, signal.Count, signal.Number(count))
			at(t, signal.State, signal.String("idle"))
			t = t.Add(time.Duration(5+r.IntN(15)) * time.Minute)
		}
		at(end, signal.State, signal.String("idle"))
	}
	slices.SortStableFunc(all, func(a, b signal.Signal) int { return a.Time.Compare(b.Time) })
	var batches [][]signal.Signal
	for len(all) > 0 {
		n := min(500, len(all))
		batches = append(batches, all[:n])
		all = all[n:]
	}
	return batches, down
}

// riskRig is the hub's path for failure warnings: the detection runner with
// its failure-risk detectors over the real event store, which publishes to
// a JetStream stream and a webhook.
type riskRig struct {
	eng *engine.Engine
	ev  *events.Store
	r   *Runner
	now time.Time
}

func newRiskRig(t *testing.T, path string, o events.Options) *riskRig {
	t.Helper()
	ev, err := events.Open(path, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ev.Close() })
	eng := engine.New(engine.Options{Location: time.UTC, Threshold: func(string) time.Duration { return time.Hour },
		Timeout: 2 * time.Hour}, nil)
	g := &riskRig{eng: eng, ev: ev, now: riskT0.Add(60 * 24 * time.Hour)}
	g.restart(t)
	return g
}

// restart builds a new runner from what the store holds, as the hub does.
func (g *riskRig) restart(t *testing.T) {
	t.Helper()
	var open []anomaly.Record
	for _, status := range []string{anomaly.Opened, anomaly.Acknowledged} {
		recs, _, _, err := g.ev.List(ledger.Filter{Status: status}, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, recs...)
	}
	def := risk.DefaultConfig()
	g.r = New(Options{Engine: g.eng, Sink: g.ev, States: g.ev, Risks: anomaly.NewRisks(time.UTC), Open: open,
		Timeout: 10 * time.Minute, Clock: func() time.Time { return g.now },
		Settings: func(activity.Equipment) anomaly.Settings {
			return anomaly.Settings{MicroStopMax: def.MicroStopMax, RiskThreshold: def.Threshold, RiskHold: def.Hold}
		},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

func (g *riskRig) feed(t *testing.T, b []signal.Signal) {
	t.Helper()
	g.eng.Apply(b)
	if err := g.r.Signals(b); err != nil {
		t.Fatal(err)
	}
}

func (g *riskRig) records(t *testing.T) []anomaly.Record {
	t.Helper()
	recs, _, _, err := g.ev.List(ledger.Filter{Type: anomaly.FailureRisk}, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// A degradation gives one failure_risk event, opened at least a day before
// the breakdown with the temperature as evidence and resolved by the
// breakdown; it reaches the events stream and a webhook; a restart in the
// middle of the degradation finds the same event.
func TestFailureRiskEvent(t *testing.T) {
	ns := testenv.StartNATS(t)
	nc, err := nats.Connect(ns.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	var mu sync.Mutex
	var hooked []anomaly.Record
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Data anomaly.Record }
		if err := json.NewDecoder(r.Body).Decode(&body); err == nil {
			mu.Lock()
			hooked = append(hooked, body.Data)
			mu.Unlock()
		}
	}))
	defer srv.Close()
	o := events.Options{Location: time.UTC, JetStream: js, Poll: 10 * time.Millisecond,
		Stream:   delivery.StreamConfig{Name: "EV", SubjectPrefix: "ev"},
		Webhooks: []delivery.Endpoint{{Name: "cmms", URL: srv.URL, Events: true, Types: []string{anomaly.FailureRisk}}}}

	batches, downAt := wearBatches()
	g := newRiskRig(t, filepath.Join(t.TempDir(), "events.db"), o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.ev.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for _, b := range batches {
		g.feed(t, b)
	}
	recs := g.records(t)
	if len(recs) != 1 {
		t.Fatalf("failure_risk records %+v, want one", recs)
	}
	rec := recs[0]
	if rec.Detected.Before(wearOnset) || downAt.Sub(rec.Detected) < 24*time.Hour {
		t.Errorf("detected %v: want after the onset %v and at least 24 h before the breakdown %v", rec.Detected, wearOnset, downAt)
	}
	if rec.Status != anomaly.Resolved || rec.End == nil || !rec.End.Equal(downAt) {
		t.Errorf("record %+v: want resolved by the breakdown at %v", rec, downAt)
	}
	if rec.Evidence["temperature_z"] < 2 || rec.Evidence["temperature_current"] <= rec.Evidence["temperature_baseline"] || rec.Reason == "" {
		t.Errorf("evidence %v, reason %q: want the temperature above normal", rec.Evidence, rec.Reason)
	}
	t.Logf("reason: %s", rec.Reason)

	// Delivered: the stream holds the opening and the resolution, the
	// webhook got both.
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, err := js.Stream(context.Background(), "EV")
		var n uint64
		if err == nil {
			info, _ := st.Info(context.Background(), jetstream.WithSubjectFilter("ev.failure_risk.s.L1.M1"))
			if info != nil {
				n = info.State.Msgs
			}
		}
		mu.Lock()
		h := len(hooked)
		mu.Unlock()
		if n == 2 && h == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream holds %d failure_risk messages, webhook got %d; want 2 and 2", n, h)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A restart in the middle of the degradation, with a redelivered batch.
	split := 0
	for i, b := range batches {
		if b[0].Time.After(wearOnset.Add(24 * time.Hour)) {
			split = i
			break
		}
	}
	path := filepath.Join(t.TempDir(), "events.db")
	h := newRiskRig(t, path, events.Options{Location: time.UTC})
	for _, b := range batches[:split] {
		h.feed(t, b)
	}
	h.restart(t)
	h.feed(t, batches[split-1])
	for _, b := range batches[split:] {
		h.feed(t, b)
	}
	again := h.records(t)
	if len(again) != 1 || again[0].ID != rec.ID || !again[0].Detected.Equal(rec.Detected) || !again[0].End.Equal(*rec.End) {
		t.Fatalf("after a restart: %+v, want %+v", again, rec)
	}
}
