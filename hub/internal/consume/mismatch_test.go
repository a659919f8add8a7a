package consume

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

func TestSubjectMatches(t *testing.T) {
	s := signal.Signal{Site: "s1", Line: "L1", Equipment: "M01"}
	for _, c := range []struct {
		subject    string
		partitions int
		want       bool
	}{
		{"fp.s1.L1.M01", 1, true},
		{"fp.s2.L1.M01", 1, false},
		{"fp.s1.L2.M01", 1, false},
		{"fp.s1.L1.M02", 1, false},
		{"fp.s1.L1.M01.x", 1, false},
		{"fp.s1.L1", 1, false},
		{"other.s1.L1.M01", 1, false},
		{"fp.3.s1.L1.M01", 4, true},
		{"fp.3.s2.L1.M01", 4, false},
		{"fp.s1.L1.M01", 4, false},
	} {
		cfg := Config{SubjectPrefix: "fp", Partitions: c.partitions}
		if got := cfg.subjectMatches(c.subject, s); got != c.want {
			t.Errorf("%s (partitions %d): %t, want %t", c.subject, c.partitions, got, c.want)
		}
	}
}

// A signal published on another equipment's subject is counted and
// terminated; it never reaches the handler.
func TestLoopSetsAsideMismatchedSubjects(t *testing.T) {
	srv := testenv.StartNATS(t)
	nc, err := nats.Connect(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := Config{Stream: "S", SubjectPrefix: "fp", Consumer: "hub", DuplicateWindow: time.Minute, MaxAge: time.Hour, Batch: 10}
	if _, err := EnsureStream(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	good := signal.Signal{Site: "s1", Line: "L1", Equipment: "M01", Name: signal.Run, Value: signal.Bool(true), Time: time.Now()}
	forged := good
	forged.Site = "s2" // published on s1's subject
	for _, s := range []signal.Signal{forged, good} {
		b, err := signal.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, good.Subject("fp"), b); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var got []signal.Signal
	stats := &Stats{}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Run(runCtx, js, cfg, func(_ context.Context, sigs []signal.Signal) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, sigs...)
			return nil
		}, stats, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	defer func() { stop(); <-done }()
	for stats.Consumed.Load() < 1 || stats.Mismatched.Load() < 1 {
		if ctx.Err() != nil {
			t.Fatalf("consumed %d, mismatched %d", stats.Consumed.Load(), stats.Mismatched.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].Site != "s1" || stats.Bad.Load() != 0 {
		t.Fatalf("handled %v, bad %d", got, stats.Bad.Load())
	}
}
