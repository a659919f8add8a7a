package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/hub/internal/anomaly"
	"github.com/floorpulse/floorpulse/hub/internal/config"
	"github.com/floorpulse/floorpulse/hub/internal/detect"
	"github.com/floorpulse/floorpulse/hub/internal/engine"
	"github.com/floorpulse/floorpulse/hub/internal/recompute"
	"github.com/floorpulse/floorpulse/hub/internal/store"
	"github.com/floorpulse/floorpulse/pkg/signal"
)

// recorder is a writer that notes what it wrote and can be told to fail.
type recorder struct {
	mu     sync.Mutex
	writes int
	fail   error
}

func (r *recorder) Write(context.Context, engine.Result) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.writes++
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writes
}

// noSink stores no events.
type noSink struct{}

func (noSink) Apply([]anomaly.Event, time.Time) ([]anomaly.Record, error) { return nil, nil }

// testPart builds a partition's parts over a store in a temp dir, with w as
// the figures' writer and no events.
func testPart(t *testing.T, w writer) *part {
	t.Helper()
	cfg := testConfig(t)
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := engine.New(cfg.EngineOptions(), nil)
	pt := &part{partSpec: partSpec{path: path}, log: log, st: st, state: st, eng: eng, every: time.Hour}
	pt.fl = newFlusher(eng, st, w, time.Second, log)
	pt.runner = detect.New(detect.Options{Engine: eng, Sink: noSink{}, Log: log})
	pt.rc = recompute.NewService(eng, w, st, log)
	pt.adm = newAdmission(cfg, func() time.Time { return testNow }, eng, newAgentCounts(), log)
	return pt
}

// testNow is the clock of testPart's admission: its tests' signals are of
// October 2026.
var testNow = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// testConfig is the configuration of testPart's hub: site s1, line L1
// with M01 registered, in UTC.
func testConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Decode("hub.yaml", []byte("site: s1\ntimezone: UTC\nequipment: [{line: L1, ids: [M01]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func runSignal(at time.Time) signal.Signal {
	return signal.Signal{Site: "s1", Line: "L1", Equipment: "M01", Name: "run", Value: signal.Bool(true), Time: at, Quality: signal.Good}
}

// runEvery is M01's run signal of value v every 10 minutes from from to to.
func runEvery(from, to time.Time, v bool) []signal.Signal {
	var out []signal.Signal
	for at := from; !at.After(to); at = at.Add(10 * time.Minute) {
		s := runSignal(at)
		s.Value = signal.Bool(v)
		out = append(out, s)
	}
	return out
}

// A part's error reaches the caller, and the flusher stops after the
// consumer: what the consumer stored last is written by the final flush.
func TestPartRunReturnsErrorsAndFlushesLast(t *testing.T) {
	w := &recorder{}
	pt := testPart(t, w)
	boom := errors.New("boom")
	err := pt.run(context.Background(), func(ctx context.Context) error {
		if err := pt.handle(ctx, []signal.Signal{runSignal(time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC))}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("run returned %v, want the consumer's error", err)
	}
	if w.count() != 1 {
		t.Fatalf("%d writes after the consumer stopped, want the final flush's 1", w.count())
	}
	pend, err := pt.st.Pending()
	if err != nil || len(pend) != 0 {
		t.Fatalf("pending after the final flush: %v %v", pend, err)
	}
}

// A consumer that returns while the part should run is an error, not a
// silent stop.
func TestPartRunConsumerStoppedIsAnError(t *testing.T) {
	pt := testPart(t, &recorder{})
	err := pt.run(context.Background(), func(context.Context) error { return nil })
	if err == nil || err.Error() != "consumer stopped" {
		t.Fatalf("run returned %v, want consumer stopped", err)
	}
}

// An extra part's error (a snapshot loop, say) stops the consumer too.
func TestPartRunExtraErrorStopsTheConsumer(t *testing.T) {
	pt := testPart(t, &recorder{})
	boom := errors.New("extra failed")
	consumerDone := make(chan struct{})
	err := pt.run(context.Background(), func(ctx context.Context) error {
		defer close(consumerDone)
		<-ctx.Done()
		return nil
	}, func(context.Context) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("run returned %v, want the extra part's error", err)
	}
	select {
	case <-consumerDone:
	default:
		t.Fatal("run returned before the consumer stopped")
	}
}

// When the final flush cannot write, the ranges stay pending in the store
// for the next start; a lost lease writes nothing.
func TestPartFinalFlushFailureKeepsRangesPending(t *testing.T) {
	for name, fail := range map[string]error{"influx down": errors.New("influx down"), "lease lost": errNotHeld} {
		t.Run(name, func(t *testing.T) {
			w := &recorder{fail: fail}
			pt := testPart(t, w)
			ctx, cancel := context.WithCancel(context.Background())
			err := pt.run(ctx, func(ctx context.Context) error {
				err := pt.handle(ctx, []signal.Signal{runSignal(time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC))})
				cancel()
				<-ctx.Done()
				return err
			})
			if err != nil {
				t.Fatalf("run returned %v after its context ended", err)
			}
			pend, err := pt.st.Pending()
			if err != nil || len(pend) != 1 {
				t.Fatalf("pending after a failed final flush: %v %v, want the range", pend, err)
			}
		})
	}
}

// A lease that is no longer valid refuses batches and writes.
func TestLeaseWriterAndHandleNeedTheLease(t *testing.T) {
	l := &fakeLease{valid: false, deadline: time.Now().Add(time.Minute)}
	w := &recorder{}
	if err := (leaseWriter{w: w, lease: l}).Write(context.Background(), engine.Result{}); !errors.Is(err, errNotHeld) {
		t.Fatalf("write without the lease: %v", err)
	}
	l.valid = true
	if err := (leaseWriter{w: w, lease: l}).Write(context.Background(), engine.Result{}); err != nil || w.count() != 1 {
		t.Fatalf("write with the lease: %v, %d writes", err, w.count())
	}
}

type fakeLease struct {
	valid    bool
	deadline time.Time
}

func (f *fakeLease) Valid() bool         { return f.valid }
func (f *fakeLease) Deadline() time.Time { return f.deadline }
