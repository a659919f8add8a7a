package forward

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/floorpulse/floorpulse/agent/internal/buffer"
	"github.com/floorpulse/floorpulse/agent/internal/config"
	"github.com/floorpulse/floorpulse/agent/internal/metrics"
	"github.com/floorpulse/floorpulse/agent/internal/streamtest"
	"github.com/floorpulse/floorpulse/pkg/signal"
	"github.com/floorpulse/floorpulse/pkg/testenv"
)

func natsConfig(url string) config.NATS {
	return config.NATS{URL: url, SubjectPrefix: signal.SubjectPrefix, Batch: 100, AckTimeout: 2 * time.Second}
}

func fill(t *testing.T, q *buffer.Queue, from, n int) []signal.Signal {
	t.Helper()
	t0 := time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)
	in := make([]signal.Signal, n)
	for i := range in {
		eq := []string{"M01", "M02", "M03"}[(from+i)%3]
		in[i] = signal.Signal{Site: "s1", Line: "L1", Equipment: eq, Name: "count", Value: signal.Number(float64(from + i)),
			Time: t0.Add(time.Duration(from+i) * time.Second), Agent: "a1"}
	}
	if err := q.Append(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	return in
}

// TestForwardWaitsForStream starts with NATS down, then up without the stream,
// then creates the stream: nothing leaves the queue until acks come, and
// everything arrives once, with subject and Nats-Msg-Id.
func TestForwardWaitsForStream(t *testing.T) {
	ns := testenv.StartNATS(t)
	url := ns.URL
	ns.Shutdown()

	q, err := buffer.Open(filepath.Join(t.TempDir(), "queue.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	in := fill(t, q, 0, 250)

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := &metrics.Registry{}
	nc, js, err := Connect(natsConfig(url), "test", m, log)
	if err != nil {
		t.Fatalf("connect must not fail while the server is down: %v", err)
	}
	defer nc.Close()
	f := New(q, js, natsConfig(url), m, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// The forwarder tries while NATS is down; the attempt fails at once
	// (nothing is buffered in the client) and the queue keeps everything.
	waitFor(t, "a failed publish while NATS is down", func() bool { return m.PublishErrors.Load() > 0 })
	if q.Len() != 250 || m.NATSConnected.Load() {
		t.Fatalf("queue shrank to %d while NATS was down (connected %v)", q.Len(), m.NATSConnected.Load())
	}
	ns.Restart(t)
	waitFor(t, "the reconnection", func() bool { return m.NATSConnected.Load() })
	errs := m.PublishErrors.Load()
	waitFor(t, "a failed publish without a stream", func() bool { return m.PublishErrors.Load() > errs })
	if q.Len() != 250 {
		t.Fatalf("queue shrank to %d without a stream", q.Len())
	}
	streamtest.Create(t, url)
	in = append(in, fill(t, q, 250, 50)...)
	streamtest.WaitCount(t, url, 300, 20*time.Second)
	waitFor(t, "an empty queue", func() bool { return q.Len() == 0 })
	msgs := streamtest.Messages(t, url)
	if len(msgs) != 300 {
		t.Fatalf("stream holds %d, want 300", len(msgs))
	}
	want := map[string]signal.Signal{}
	for _, s := range in {
		want[s.ID()] = s
	}
	for _, m := range msgs {
		s, ok := want[m.ID]
		if !ok {
			t.Fatalf("unexpected msg id %s", m.ID)
		}
		delete(want, m.ID)
		if m.Subject != "floorpulse.signals.s1.L1."+s.Equipment || m.Signal.ID() != m.ID {
			t.Fatalf("message %s on %s", m.ID, m.Subject)
		}
	}
	if got := m.Forwarded.Load(); got < 300 {
		t.Fatalf("forwarded_total %d", got)
	}
}
