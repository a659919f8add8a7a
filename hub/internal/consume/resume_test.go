package consume

import (
	"context"
	"errors"
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

// A consumer that died holding messages delivered but not acknowledged (a
// hub killed while it handled a batch, or with the next one fetched) does
// not leave them to come back after the ack wait, behind later signals: the
// next Run hands them over first, in stream order, and then the rest.
func TestRunResumesWhatADeadConsumerHeld(t *testing.T) {
	srv := testenv.StartNATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := Config{Stream: "S", SubjectPrefix: "fp", Consumer: "hub", DuplicateWindow: time.Minute, MaxAge: time.Hour, Batch: 10}
	connect := func() (*nats.Conn, jetstream.JetStream) {
		nc, err := nats.Connect(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		js, _ := jetstream.New(nc)
		return nc, js
	}
	nc, js := connect()
	st, err := EnsureStream(ctx, js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	const total = 40
	publishCounts(ctx, t, js, total)
	// The consumer that dies: it acknowledges the first batch, then holds
	// two more (one being handled, one fetched ahead) when it is gone.
	cons, err := Durable(ctx, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for b := range 3 {
		batch, err := cons.FetchNoWait(cfg.Batch)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			if b == 0 {
				if err := m.DoubleAck(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		if n != cfg.Batch {
			t.Fatalf("batch %d: %d messages", b, n)
		}
	}
	nc.Close()

	nc, js = connect()
	defer nc.Close()
	var mu sync.Mutex
	var got []float64
	stats := &Stats{}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Run(runCtx, js, cfg, func(_ context.Context, sigs []signal.Signal) error {
			mu.Lock()
			defer mu.Unlock()
			for _, s := range sigs {
				got = append(got, s.Value.Num)
			}
			return nil
		}, stats, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	defer func() { stop(); <-done }()
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= total-cfg.Batch {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("handled %d signals, want %d", n, total-cfg.Batch)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, v := range got[:total-cfg.Batch] {
		if want := float64(cfg.Batch + i); v != want {
			t.Fatalf("signal %d handled was count %v, want %v (the held batches first, in order): %v", i, v, want, got)
		}
	}
}

// A batch the handler fails is delivered again before the batches fetched
// after it: the handler sees every signal once, in stream order, however
// the fetching ahead stood when it failed.
func TestLoopKeepsOrderAcrossFailures(t *testing.T) {
	srv := testenv.StartNATS(t)
	nc, err := nats.Connect(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := Config{Stream: "S", SubjectPrefix: "fp", Consumer: "hub", DuplicateWindow: time.Minute, MaxAge: time.Hour, Batch: 10}
	if _, err := EnsureStream(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	const total = 100
	publishCounts(ctx, t, js, total)
	var mu sync.Mutex
	var got []float64
	calls := 0
	stats := &Stats{}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- Run(runCtx, js, cfg, func(_ context.Context, sigs []signal.Signal) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls == 2 || calls == 5 || calls == 6 { // a failure, and two in a row
				time.Sleep(50 * time.Millisecond) // the next batch is fetched meanwhile
				return errors.New("disk full")
			}
			for _, s := range sigs {
				got = append(got, s.Value.Num)
			}
			return nil
		}, stats, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	defer func() { stop(); <-done }()
	for stats.Consumed.Load() < total {
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d", stats.Consumed.Load(), total)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if stats.Failures.Load() != 3 || len(got) != total {
		t.Fatalf("failures %d, handled %d signals: %v", stats.Failures.Load(), len(got), got)
	}
	for i, v := range got {
		if v != float64(i) {
			t.Fatalf("signal %d handled was count %v: %v", i, v, got)
		}
	}
}

// publishCounts publishes n count signals of one machine on prefix fp, the
// i-th of value i, a second apart.
func publishCounts(ctx context.Context, t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	t0 := time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)
	for i := range n {
		s := signal.Signal{Site: "s1", Line: "L1", Equipment: "M01", Name: signal.Count, Value: signal.Number(float64(i)), Time: t0.Add(time.Duration(i) * time.Second)}
		b, err := signal.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, s.Subject("fp"), b); err != nil {
			t.Fatal(err)
		}
	}
}
