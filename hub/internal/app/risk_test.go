package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

// A machine whose temperature drifts before it breaks down gives a
// failure_risk event through the hub's whole path: signals over JetStream,
// the detectors, the event store and the REST API, opened more than a day
// before the breakdown and resolved by it.
func TestHubFailureWarning(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	in := testenv.StartInflux(t, "floorpulse")
	natsPort, httpPort := testenv.FreePort(t), testenv.FreePort(t)
	cfg, err := config.Decode("hub.yaml", []byte(fmt.Sprintf(`site: s1
timezone: UTC
data_dir: %s
http: 127.0.0.1:%d
nats: {listen: "127.0.0.1:%d", batch: 500}
influx: {url: %q, bucket: floorpulse/autogen, create_database: true}
state: {signal_timeout: 0s, accept_age: 876000h}
activity: {flush_interval: 50ms}
equipment:
  - {line: L1, class: cnc, ids: [M01]}
`, filepath.Join(t.TempDir(), "hub"), httpPort, natsPort, in.URL)))
	if err != nil {
		t.Fatal(err)
	}
	token := addToken(t, cfg.Tokens())
	seed := addAgent(t, cfg, "test", "s1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() { cancel(); <-done })
	nc := connectAgent(t, fmt.Sprintf("nats://127.0.0.1:%d", natsPort), "test", seed)
	js, _ := jetstream.New(nc)

	t0 := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	onset := t0.Add(6 * 24 * time.Hour)
	due := onset.Add(3*24*time.Hour + 10*time.Hour)
	sigs, downAt := wearingMachine(t0, 11, onset, due)
	publish(t, js, sigs)

	url := fmt.Sprintf("http://127.0.0.1:%d/api/v1/events?type=failure_risk", httpPort)
	deadline := time.Now().Add(60 * time.Second)
	for {
		var page struct{ Events []anomaly.Record }
		err := json.Unmarshal([]byte(get(t, url, token)), &page)
		if err == nil && len(page.Events) == 1 && page.Events[0].Status == anomaly.Resolved {
			rec := page.Events[0]
			if rec.Detected.Before(onset) || downAt.Sub(rec.Detected) < 24*time.Hour || !rec.End.Equal(downAt) {
				t.Fatalf("failure warning %+v: want it detected after the onset %v, a day before the breakdown %v, and ended by it", rec, onset, downAt)
			}
			if rec.Evidence["temperature_z"] < 2 {
				t.Fatalf("evidence %v: want the temperature", rec.Evidence)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("failure_risk events: %+v (err %v), want one resolved", page.Events, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wearingMachine is days of s1/L1/M01 working 06:00-22:00 (runs and idle
// spells; state, count and a temperature every 5 minutes while it runs),
// whose temperature rises by 6 °C from onset to a breakdown at due.
func wearingMachine(t0 time.Time, days int, onset, due time.Time) ([]signal.Signal, time.Time) {
	r := rand.New(rand.NewPCG(5, 1))
	var out []signal.Signal
	at := func(t time.Time, name string, v signal.Value) {
		out = append(out, signal.Signal{Site: "s1", Line: "L1", Equipment: "M01", Name: name, Value: v, Time: t, Agent: "test"})
	}
	count, down := 0.0, time.Time{}
	for day := 0; day < days; day++ {
		t := t0.Add(time.Duration(day)*24*time.Hour + 6*time.Hour)
		end := t.Add(16 * time.Hour)
		for t.Before(end) {
			if down.IsZero() && !t.Before(due) {
				at(t, signal.State, signal.String("down"))
				down = t
				t = t.Add(2 * time.Hour)
				continue
			}
			at(t, signal.State, signal.String("running"))
			run := time.Duration(30+r.IntN(40)) * time.Minute
			lv := 0.0
			if down.IsZero() && t.After(onset) {
				lv = float64(t.Sub(onset)) / float64(due.Sub(onset))
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
	slices.SortStableFunc(out, func(a, b signal.Signal) int { return a.Time.Compare(b.Time) })
	return out, down
}
