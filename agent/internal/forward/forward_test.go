package forward

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

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
	nc, err := Connect(natsConfig(url), "test", m, log)
	if err != nil {
		t.Fatalf("connect must not fail while the server is down: %v", err)
	}
	defer nc.Close()
	f := New(q, nc, natsConfig(url), m, log)
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

// answer publishes m with a reply subject and returns what comes back, as
// the forwarder's ack subscription receives it.
func answer(t *testing.T, nc *nats.Conn, m *nats.Msg) *nats.Msg {
	t.Helper()
	inbox := nats.NewInbox()
	got := make(chan *nats.Msg, 1)
	sub, err := nc.Subscribe(inbox, func(r *nats.Msg) { got <- r })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	m.Reply = inbox
	if err := nc.PublishMsg(m); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		return r
	case <-time.After(5 * time.Second):
		t.Fatalf("no answer to a publish on %s", m.Subject)
		return nil
	}
}

// parseAck reads what a real server answers: stored, a duplicate, a
// JetStream error, and no stream for the subject.
func TestParseAckOfRealAnswers(t *testing.T) {
	ns := testenv.StartNATS(t)
	streamtest.Create(t, ns.URL)
	nc, err := nats.Connect(ns.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	msg := func(subject, id string, extra ...string) *nats.Msg {
		m := nats.NewMsg(subject)
		m.Data = []byte(`{}`)
		m.Header.Set(nats.MsgIdHdr, id)
		for i := 0; i+1 < len(extra); i += 2 {
			m.Header.Set(extra[i], extra[i+1])
		}
		return m
	}
	for _, tc := range []struct {
		name    string
		m       *nats.Msg
		dup     bool
		wantErr string
	}{
		{"stored", msg("floorpulse.signals.s1.L1.M01", "a"), false, ""},
		{"duplicate", msg("floorpulse.signals.s1.L1.M01", "a"), true, ""},
		{"stored again", msg("floorpulse.signals.s1.L1.M01", "b"), false, ""},
		{"jetstream error", msg("floorpulse.signals.s1.L1.M01", "c", "Nats-Expected-Last-Sequence", "999"), false, "wrong last sequence"},
		{"no stream", msg("elsewhere.s1", "d"), false, "no responders"},
	} {
		dup, err := parseAck(answer(t, nc, tc.m))
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.wantErr)
		case dup != tc.dup:
			t.Errorf("%s: duplicate %v, want %v", tc.name, dup, tc.dup)
		}
	}
}

// A batch sent twice is stored once: the second time every ack says
// duplicate, and the forwarder counts them.
func TestForwardCountsDuplicates(t *testing.T) {
	ns := testenv.StartNATS(t)
	streamtest.Create(t, ns.URL)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := &metrics.Registry{}
	nc, err := Connect(natsConfig(ns.URL), "test", m, log)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	run := func() {
		q, err := buffer.Open(filepath.Join(t.TempDir(), "queue.db"), 0)
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		fill(t, q, 0, 250)
		f := New(q, nc, natsConfig(ns.URL), m, log)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- f.Run(ctx) }()
		waitFor(t, "an empty queue", func() bool { return q.Len() == 0 })
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	run()
	run() // the same 250 signals from a second queue, as after a crash between ack and delete
	if n := streamtest.Count(t, ns.URL); n != 250 {
		t.Fatalf("stream holds %d messages, want 250", n)
	}
	if fwd, dups := m.Forwarded.Load(), m.Duplicates.Load(); fwd != 500 || dups != 250 {
		t.Fatalf("forwarded %d, duplicates %d; want 500 and 250", fwd, dups)
	}
}

// FuzzParseAck: whatever the server answers, parseAck returns without
// panicking, and never both a duplicate and an error.
func FuzzParseAck(f *testing.F) {
	f.Add([]byte(`{"stream":"FLOORPULSE_SIGNALS","seq":1}`))
	f.Add([]byte(`{"stream":"FLOORPULSE_SIGNALS","seq":1,"duplicate": true}`))
	f.Add([]byte(`{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 0"}}`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, data []byte) {
		dup, err := parseAck(&nats.Msg{Data: data, Header: nats.Header{}})
		if dup && err != nil {
			t.Fatalf("%q: duplicate and error %v", data, err)
		}
	})
}

// TestForwardReadsBatchesIntoReusedMemory forwards many small batches of
// records of different lengths: the forwarder reads each batch into the
// memory of one deleted before, and every message must still carry its own
// subject, id and body, once.
func TestForwardReadsBatchesIntoReusedMemory(t *testing.T) {
	ns := testenv.StartNATS(t)
	streamtest.Create(t, ns.URL)
	q, err := buffer.Open(filepath.Join(t.TempDir(), "queue.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	t0 := time.Date(2026, 10, 1, 6, 0, 0, 0, time.UTC)
	eqs := []string{"M1", "MACHINE-LONG-NAME-0002", "M03", "PRESS-4"}
	in := make([]signal.Signal, 1000)
	for i := range in {
		in[i] = signal.Signal{Site: "s1", Line: "L1", Equipment: eqs[i%len(eqs)], Name: "operator",
			Value: signal.String(strings.Repeat("x", i%37)), Time: t0.Add(time.Duration(i) * time.Second), Agent: "a1"}
	}
	if err := q.Append(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	m := &metrics.Registry{}
	cfg := natsConfig(ns.URL)
	cfg.Batch = 7
	nc, err := Connect(cfg, "test", m, log)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(q, nc, cfg, m, log).Run(ctx) }()
	defer func() { cancel(); <-done }()

	streamtest.WaitCount(t, ns.URL, uint64(len(in)), 30*time.Second)
	waitFor(t, "an empty queue", func() bool { return q.Len() == 0 })
	want := map[string]signal.Signal{}
	for _, s := range in {
		want[s.ID()] = s
	}
	msgs := streamtest.Messages(t, ns.URL)
	if len(msgs) != len(in) {
		t.Fatalf("stream holds %d, want %d", len(msgs), len(in))
	}
	for _, msg := range msgs {
		s, ok := want[msg.ID]
		if !ok {
			t.Fatalf("message id %s: not sent, or sent twice", msg.ID)
		}
		delete(want, msg.ID)
		if msg.Subject != "floorpulse.signals.s1.L1."+s.Equipment || msg.Signal.ID() != msg.ID || msg.Signal.Value != s.Value {
			t.Fatalf("message %s on %s carries %+v, want %+v", msg.ID, msg.Subject, msg.Signal, s)
		}
	}
}
