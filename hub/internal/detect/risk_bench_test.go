package detect

import (
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/activity"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/anomaly/gauge"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/events/ledger"
	"github.com/floorpulse/floorpulse/pkg/risk"
)

// BenchmarkSignalsRisk measures what the failure-risk detectors add to the
// detection of a consumed batch: 40 days of one machine (state, count and a
// gauge) in batches of 500, through the runner into a real event store,
// with and without them, the gauge detector on in both (as in a hub: the
// batch's gauge states are written anyway).
func BenchmarkSignalsRisk(b *testing.B) {
	batches, _ := wearBatches()
	n := 0
	for _, bt := range batches {
		n += len(bt)
	}
	for _, withRisk := range []bool{false, true} {
		name := "without"
		if withRisk {
			name = "with"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				ev, err := ledger.Open(filepath.Join(b.TempDir(), "events.db"), ledger.Options{})
				if err != nil {
					b.Fatal(err)
				}
				eng := engine.New(engine.Options{Location: time.UTC, Threshold: func(string) time.Duration { return time.Hour },
					Timeout: 2 * time.Hour}, nil)
				def := risk.DefaultConfig()
				o := Options{Engine: eng, Sink: ev, States: ev, Timeout: 10 * time.Minute,
					Clock: func() time.Time { return riskT0.Add(60 * 24 * time.Hour) },
					Settings: func(activity.Equipment) anomaly.Settings {
						return anomaly.Settings{MicroStopMax: def.MicroStopMax, RiskThreshold: def.Threshold, RiskHold: def.Hold}
					},
					Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
				if o.Gauges, err = anomaly.NewGauges(gauge.DefaultConfig(), time.UTC); err != nil {
					b.Fatal(err)
				}
				if withRisk {
					o.Risks = anomaly.NewRisks(time.UTC)
				}
				r := New(o)
				for _, bt := range batches {
					eng.Apply(bt)
				}
				b.StartTimer()
				for _, bt := range batches {
					if err := r.Signals(bt); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				ev.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/signal")
		})
	}
}
